#include "fault_server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <thread>

namespace bw::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct FaultServer::Impl {
  Handler handler;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  mutable std::mutex mu;
  std::vector<SeenRequest> seen;
  std::thread thread;

  asio::awaitable<void> session(tcp::socket socket) {
    try {
      beast::flat_buffer buf;
      http::request<http::string_body> req;
      co_await http::async_read(socket, buf, req, asio::use_awaitable);
      SeenRequest s{std::string(req.method_string()), std::string(req.target()), {}, req.body()};
      for (auto& h : req) {
        std::string name(h.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        s.headers[name] = std::string(h.value());
      }
      {
        std::lock_guard lock(mu);
        seen.push_back(s);
      }
      Reply r = handler(s);
      std::string head = "HTTP/1.1 " + std::to_string(r.status) + " X\r\n";
      for (auto& [k, v] : r.headers) head += k + ": " + v + "\r\n";
      long long len =
          r.content_length >= 0 ? r.content_length : static_cast<long long>(r.body.size());
      head += "Content-Length: " + std::to_string(len) + "\r\nConnection: close\r\n\r\n";
      co_await asio::async_write(socket, asio::buffer(head), asio::use_awaitable);
      std::size_t n = std::min(r.send_bytes, r.body.size());
      if (s.method == "HEAD") n = 0;
      if (r.drip.count() == 0) {
        co_await asio::async_write(socket, asio::buffer(r.body.data(), n), asio::use_awaitable);
      } else {
        asio::steady_timer t(ioc);
        for (std::size_t i = 0; i < n; ++i) {
          co_await asio::async_write(socket, asio::buffer(r.body.data() + i, 1),
                                     asio::use_awaitable);
          t.expires_after(r.drip);
          co_await t.async_wait(asio::use_awaitable);
        }
      }
      boost::system::error_code ec;
      socket.shutdown(tcp::socket::shutdown_both, ec);
    } catch (const std::exception&) {
      // The client went away: nothing to do.
    }
  }

  asio::awaitable<void> accept_loop() {
    while (true) {
      auto socket = co_await acceptor.async_accept(asio::use_awaitable);
      asio::co_spawn(ioc, session(std::move(socket)), asio::detached);
    }
  }
};

FaultServer::FaultServer(Handler handler, const std::string& address)
    : impl_(std::make_unique<Impl>()) {
  impl_->handler = std::move(handler);
  tcp::endpoint ep(asio::ip::make_address(address), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  asio::co_spawn(impl_->ioc, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

FaultServer::~FaultServer() {
  impl_->ioc.stop();
  impl_->thread.join();
}

unsigned short FaultServer::port() const {
  return impl_->acceptor.local_endpoint().port();
}

std::string FaultServer::host() const {
  return impl_->acceptor.local_endpoint().address().to_string() + ":" + std::to_string(port());
}

std::vector<SeenRequest> FaultServer::requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->seen;
}

}  // namespace bw::test
