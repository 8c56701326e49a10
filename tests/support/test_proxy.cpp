#include "test_proxy.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/url/parse.hpp>

#include <mutex>
#include <sstream>
#include <thread>

namespace bw::test {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct TestProxy::Impl {
  std::string credentials;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  mutable std::mutex mu;
  std::vector<std::string> seen;
  std::thread thread;

  static asio::awaitable<void> pipe(tcp::socket& from, tcp::socket& to) {
    char buf[16384];
    try {
      while (true) {
        std::size_t n = co_await from.async_read_some(asio::buffer(buf), asio::use_awaitable);
        co_await asio::async_write(to, asio::buffer(buf, n), asio::use_awaitable);
      }
    } catch (const std::exception&) {
      boost::system::error_code ec;
      to.shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  asio::awaitable<void> session(tcp::socket client) {
    using namespace asio::experimental::awaitable_operators;
    try {
      std::string head;
      std::size_t end = co_await asio::async_read_until(client, asio::dynamic_buffer(head),
                                                        "\r\n\r\n", asio::use_awaitable);
      std::string rest = head.substr(end);
      head.resize(end);
      std::istringstream in(head);
      std::string method, target, version;
      in >> method >> target >> version;
      {
        std::lock_guard lock(mu);
        seen.push_back(method + " " + target);
      }
      if (!credentials.empty()) {
        namespace b64 = boost::beast::detail::base64;
        std::string enc(b64::encoded_size(credentials.size()), '\0');
        enc.resize(b64::encode(enc.data(), credentials.data(), credentials.size()));
        if (head.find("Proxy-Authorization: Basic " + enc) == std::string::npos) {
          co_await asio::async_write(
              client,
              asio::buffer(
                  std::string("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: "
                              "0\r\nConnection: close\r\n\r\n")),
              asio::use_awaitable);
          co_return;
        }
      }
      std::string host, port;
      if (method == "CONNECT") {
        auto colon = target.rfind(':');
        host = target.substr(0, colon);
        port = target.substr(colon + 1);
      } else {
        auto u = boost::urls::parse_absolute_uri(target);
        if (!u) co_return;
        host = std::string(u->encoded_host());
        port = std::string(u->port());
        // Forward in origin form, as a proxy does.
        std::string origin = std::string(u->encoded_resource());
        head.replace(head.find(target), target.size(), origin.empty() ? "/" : origin);
      }
      tcp::socket upstream(ioc);
      tcp::resolver resolver(ioc);
      auto eps = co_await resolver.async_resolve(host, port, asio::use_awaitable);
      co_await asio::async_connect(upstream, eps, asio::use_awaitable);
      if (method == "CONNECT")
        co_await asio::async_write(
            client, asio::buffer(std::string("HTTP/1.1 200 Connection established\r\n\r\n")),
            asio::use_awaitable);
      else
        co_await asio::async_write(upstream, asio::buffer(head), asio::use_awaitable);
      if (!rest.empty())
        co_await asio::async_write(upstream, asio::buffer(rest), asio::use_awaitable);
      co_await (pipe(client, upstream) && pipe(upstream, client));
    } catch (const std::exception&) {
    }
  }

  asio::awaitable<void> accept_loop() {
    while (true) {
      auto s = co_await acceptor.async_accept(asio::use_awaitable);
      asio::co_spawn(ioc, session(std::move(s)), asio::detached);
    }
  }
};

TestProxy::TestProxy(std::string credentials) : impl_(std::make_unique<Impl>()) {
  impl_->credentials = std::move(credentials);
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  asio::co_spawn(impl_->ioc, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

TestProxy::~TestProxy() {
  impl_->ioc.stop();
  impl_->thread.join();
}

std::string TestProxy::url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->acceptor.local_endpoint().port());
}

std::vector<std::string> TestProxy::seen() const {
  std::lock_guard lock(impl_->mu);
  return impl_->seen;
}

}  // namespace bw::test
