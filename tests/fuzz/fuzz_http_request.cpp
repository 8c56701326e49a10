// The API's request path: bytes parsed as an HTTP request with the server's limits, then
// routed against a real (empty) store and scan service, as a session does.
#include "api/api.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/http.hpp>

#include <unistd.h>
#include <cstdint>
#include <filesystem>
#include <string_view>

namespace {

struct World {
  std::string dir = [] {
    std::string d = "/tmp/bulwark-fuzz-http-" + std::to_string(getpid());
    std::filesystem::create_directories(d);
    return d;
  }();
  boost::asio::io_context ioc;
  boost::asio::thread_pool workers{1};
  std::unique_ptr<bw::Store> store = bw::open_sqlite_store({dir + "/b.db"}).value();
  bw::Config config;
  bw::RegistryClient registry{ioc.get_executor(), config.registry};
  bw::Reporter reporter{*store, bw::ReportOptions{}};
  bw::ScanService scans{ioc.get_executor(), workers, *store, registry, config.scan, &reporter};
  bw::HttpMetrics http;
  bw::ApiContext ctx{scans, reporter, *store, registry, config, http};
  ~World() {
    workers.join();
    std::filesystem::remove_all(dir);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World state;  // one store and service for the whole run, as in the daemon
  World* world = &state;
  namespace http = boost::beast::http;
  http::request_parser<http::string_body> parser;
  parser.header_limit(world->config.api.max_header_bytes);
  parser.body_limit(world->config.api.max_body_bytes);
  parser.eager(true);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_done()) return 0;
  auto& req = parser.get();
  // Scans would reach for the network; everything else runs as it would in the daemon.
  if (req.method() == http::verb::post || req.method() == http::verb::delete_) return 0;
  bw::ApiRequest api{std::string(req.method_string()),
                     std::string(req.target()),
                     std::move(req.body()),
                     "fuzz",
                     std::string(req[http::field::authorization]),
                     std::string(req[http::field::if_none_match]),
                     std::string(req[http::field::accept_encoding]),
                     std::string(req[http::field::origin])};
  auto fut = boost::asio::co_spawn(world->ioc, bw::route(api, world->ctx), boost::asio::use_future);
  world->ioc.restart();
  world->ioc.run_for(std::chrono::seconds(5));
  auto res = fut.get();
  if (res.status < 100 || res.status > 599) __builtin_trap();
  return 0;
}
