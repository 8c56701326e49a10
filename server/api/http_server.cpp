#include "api/http_server.h"

#include "common/digest.h"
#include "common/log.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <map>
#include <tuple>

namespace bw {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::awaitable;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

std::string make_request_id(std::string_view given) {
  bool ok = !given.empty() && given.size() <= 64;
  for (char c : given)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      ok = false;
  return ok ? std::string(given) : random_hex(8);
}

// The request target as logged: values of query parameters that name a secret (access_token,
// password, api_key, X-Amz-Signature, …) are replaced, since logs travel further than requests.
std::string loggable_target(std::string_view target) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return std::string(target);
  std::string out(target.substr(0, q + 1));
  std::string_view query = target.substr(q + 1);
  bool first = true;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = pair.find('=');
    std::string name(pair.substr(0, eq));
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    bool secret = false;
    for (std::string_view word :
         {"token", "password", "passwd", "secret", "key", "signature", "credential", "auth", "sig"})
      secret |= name.find(word) != std::string::npos;
    if (!first) out += '&';
    first = false;
    if (secret && eq != std::string_view::npos)
      out += std::string(pair.substr(0, eq)) + "=REDACTED";
    else
      out += pair;
  }
  return out;
}

Error parse_error(const boost::system::error_code& ec) {
  if (ec == http::error::body_limit)
    return make_error(Errc::payload_too_large, "request body too large");
  if (ec == http::error::header_limit)
    return make_error(Errc::bad_request, "request headers too large");
  return make_error(Errc::bad_request, "malformed HTTP request: " + ec.message());
}

// The listener's TLS: TLS 1.2 or later, the certificate chain and key from files, and client
// certificates required when a client CA is set.
Result<std::shared_ptr<ssl::context>> load_tls(const ApiOptions::Tls& tls) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                       ec);
  if (!ec) context->use_certificate_chain_file(tls.cert_file, ec);
  if (ec)
    return make_error(Errc::bad_request,
                      "api.tls.cert_file " + tls.cert_file + ": " + ec.message());
  context->use_private_key_file(tls.key_file, ssl::context::pem, ec);
  if (ec)
    return make_error(Errc::bad_request, "api.tls.key_file " + tls.key_file + ": " + ec.message());
  if (!tls.client_ca_file.empty()) {
    context->load_verify_file(tls.client_ca_file, ec);
    if (ec)
      return make_error(Errc::bad_request,
                        "api.tls.client_ca_file " + tls.client_ca_file + ": " + ec.message());
    context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  return context;
}

}  // namespace

struct HttpServer::Impl {
  asio::any_io_executor ex;
  tcp::acceptor acceptor;
  ApiContext& ctx;
  bool stopping = false;
  std::uint64_t next_session = 0;
  // Open connections and whether each is inside a request (so stop() spares it).
  std::map<std::uint64_t, std::pair<beast::tcp_stream*, bool>> sessions;

  // The TLS context new connections take; replaced whole on reload, so that connections open
  // keep the one they started with.
  std::shared_ptr<ssl::context> tls;

  Impl(asio::any_io_executor e, ApiContext& c) : ex(e), acceptor(e), ctx(c) {}

  template <class Body>
  static void set_headers(http::response<Body>& out, const ApiResponse& res,
                          const std::string& request_id) {
    out.set(http::field::server, "bulwarkd");
    out.set(http::field::content_type, res.content_type);
    out.set("X-Request-Id", request_id);
    out.set(http::field::cache_control, "no-store");
    for (auto& [k, v] : res.headers) out.set(k, v);
  }

  // A streamed answer: the head, then each piece `res.stream` produces as one chunk, then the
  // last chunk once it succeeded. On its failure the connection closes without the last chunk,
  // so the client cannot take a cut body for a whole one. Returns the write error and the body
  // bytes sent.
  template <class Stream>
  awaitable<std::tuple<boost::system::error_code, std::size_t>> write_streamed(
      Stream& stream, beast::tcp_stream& tcp, ApiResponse& res, unsigned version,
      const std::string& request_id) {
    http::response<http::buffer_body> out{static_cast<http::status>(res.status), version};
    set_headers(out, res, request_id);
    out.keep_alive(false);
    out.chunked(true);
    out.body().data = nullptr;
    out.body().more = true;
    http::response_serializer<http::buffer_body> sr{out};
    tcp.expires_after(ctx.config.api.idle_timeout);
    auto [header_ec, header_n] = co_await http::async_write_header(stream, sr, kTuple);
    boost::system::error_code ec = header_ec;
    std::size_t sent = 0;
    auto sink = [&](std::string piece) -> awaitable<bool> {
      if (ec) co_return false;
      if (piece.empty()) co_return true;
      out.body().data = piece.data();
      out.body().size = piece.size();
      out.body().more = true;
      tcp.expires_after(ctx.config.api.idle_timeout);
      auto [wec, wn] = co_await http::async_write(stream, sr, kTuple);
      ec = wec == http::error::need_buffer ? boost::system::error_code{} : wec;
      if (!ec) sent += piece.size();
      co_return !ec;
    };
    auto done = co_await res.stream(sink);
    if (!done && !ec) {
      log::warn("streamed answer ended short",
                {{"request_id", request_id}, {"error", done.error().message}});
      ec = asio::error::connection_aborted;
    }
    if (!ec) {
      out.body().data = nullptr;
      out.body().size = 0;
      out.body().more = false;
      auto [lec, ln] = co_await http::async_write(stream, sr, kTuple);
      ec = lec;
    }
    co_return std::tuple{ec, sent};
  }

  awaitable<void> session(tcp::socket socket) {
    if (!tls) {
      beast::tcp_stream stream(std::move(socket));
      co_await serve(stream, stream);
      boost::system::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
    auto context = tls;  // kept alive by this connection
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *context);
    // A client that connects and says nothing must not hold a connection: the handshake has the
    // idle timeout too.
    beast::get_lowest_layer(stream).expires_after(ctx.config.api.idle_timeout);
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, kTuple);
    if (ec) {
      log::debug("TLS handshake failed", {{"error", ec.message()}});
      co_return;
    }
    co_await serve(stream, beast::get_lowest_layer(stream));
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
    co_await stream.async_shutdown(kTuple);
  }

  // HTTP/1.1 on `stream` (plain or TLS) until the peer closes, an error, or stop().
  template <class Stream>
  awaitable<void> serve(Stream& stream, beast::tcp_stream& tcp) {
    const std::uint64_t id = next_session++;
    sessions[id] = {&tcp, false};
    beast::flat_buffer buffer;
    const auto& opt = ctx.config.api;
    while (!stopping) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(opt.max_header_bytes);
      parser.body_limit(opt.max_body_bytes);
      tcp.expires_after(opt.idle_timeout);
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, kTuple);
      if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
          ec == beast::error::timeout || ec == asio::error::connection_reset ||
          ec == asio::error::eof || ec == ssl::error::stream_truncated)
        break;
      sessions[id].second = true;
      ++ctx.http_metrics.in_flight;
      const auto started = std::chrono::steady_clock::now();
      ApiResponse res;
      std::string method = "other", target;
      std::string request_id;
      bool keep_alive = false;
      unsigned version = 11;
      if (ec) {
        // Answer what we can tell the caller, then close: the stream position is unknown.
        res = error_response(parse_error(ec));
        request_id = make_request_id("");
      } else {
        auto& req = parser.get();
        request_id = make_request_id(req["X-Request-Id"]);
        keep_alive = req.keep_alive();
        version = req.version();
        ApiRequest api{std::string(req.method_string()),
                       std::string(req.target()),
                       std::move(req.body()),
                       request_id,
                       std::string(req[http::field::authorization]),
                       std::string(req[http::field::if_none_match]),
                       std::string(req[http::field::accept_encoding]),
                       std::string(req[http::field::origin]),
                       std::string(req[http::field::cache_control]),
                       std::string(req[http::field::if_match])};
        for (std::string_view known : {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"})
          if (api.method == known) method = api.method;
        target = loggable_target(api.target).substr(0, 200);
        try {
          res = co_await route(api, ctx);
        } catch (const std::exception& e) {
          log::error("route threw", {{"request_id", request_id}, {"error", e.what()}});
          res = error_response(
              make_error(Errc::internal, "internal error; request id " + request_id));
        }
      }

      boost::system::error_code wec;
      std::size_t wn = 0;
      bool keep = keep_alive && !stopping;
      if (res.stream) {
        auto [sec, sn] = co_await write_streamed(stream, tcp, res, version, request_id);
        wec = sec;
        wn = sn;
        keep = false;
      } else {
        http::response<http::string_body> out{static_cast<http::status>(res.status), version};
        set_headers(out, res, request_id);
        out.body() = std::move(res.body);
        out.keep_alive(keep);
        if (res.head_length)
          out.content_length(*res.head_length);  // HEAD: the length GET sends, and no body
        else
          out.prepare_payload();
        tcp.expires_after(opt.idle_timeout);
        std::tie(wec, wn) = co_await http::async_write(stream, out, kTuple);
        res.body = std::move(out.body());
      }
      sessions[id].second = false;
      --ctx.http_metrics.in_flight;
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      const std::string route = res.route.empty() ? "unmatched" : res.route;
      ctx.http_metrics.requests.add({method, route, std::to_string(res.status)});
      ctx.http_metrics.duration.observe({method, route}, seconds);
      // Probes and scrapes would drown the rest: they are logged at debug only. A server-side
      // failure is an error, with what the caller was told (a probe's 503, not ready yet, a
      // warning).
      bool probe = route == "/healthz" || route == "/readyz" || route == "/metrics";
      log::Level level = res.status >= 500 ? (probe ? log::Level::warn : log::Level::error)
                         : probe           ? log::Level::debug
                                           : log::Level::info;
      if (log::enabled(level)) {
        std::string error;
        if (res.status >= 500) {
          auto body = nlohmann::json::parse(res.body, nullptr, false);
          if (body.is_object() && body.contains("error") && body["error"].is_object())
            error = body["error"].value("message", "");
        }
        log::write(level, "request",
                   {{"request_id", request_id},
                    {"method", method},
                    {"target", target},
                    {"route", res.route},
                    {"status", res.status},
                    {"bytes", wn},
                    {"duration_s", seconds, 4},
                    {"error", error}});
      }
      if (wec || !keep) break;
    }
    sessions.erase(id);
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() = default;

Result<std::unique_ptr<HttpServer>> HttpServer::bind(asio::any_io_executor ex,
                                                     const std::string& listen, ApiContext& ctx) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return make_error(Errc::bad_request, "listen must be HOST:PORT");
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return make_error(Errc::bad_request, "listen host must be an IP address: " + host);
  unsigned long port = 0;
  try {
    port = std::stoul(listen.substr(colon + 1));
  } catch (const std::exception&) {
    return make_error(Errc::bad_request, "listen port is not a number");
  }
  if (port > 65535) return make_error(Errc::bad_request, "listen port out of range");
  auto impl = std::make_unique<Impl>(ex, ctx);
  if (ctx.config.api.tls.enabled()) {
    auto tls = load_tls(ctx.config.api.tls);
    if (!tls) return tls.error();
    impl->tls = std::move(*tls);
  }
  tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error(Errc::unavailable, "cannot listen on " + listen + ": " + ec.message());
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

Result<void> HttpServer::reload_tls() {
  if (!impl_->ctx.config.api.tls.enabled()) return {};
  auto tls = load_tls(impl_->ctx.config.api.tls);
  if (!tls) return tls.error();
  impl_->tls = std::move(*tls);
  return {};
}

bool HttpServer::tls() const {
  return impl_->tls != nullptr;
}

tcp::endpoint HttpServer::local_endpoint() const {
  return impl_->acceptor.local_endpoint();
}

awaitable<void> HttpServer::run() {
  auto& im = *impl_;
  std::chrono::milliseconds backoff{0};
  while (!im.stopping) {
    auto [ec, socket] = co_await im.acceptor.async_accept(kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || im.stopping) break;
      // Out of descriptors (or memory): accepting again at once would fail again and spin.
      // Back off, doubling to a second, and log once per episode; open connections finish
      // and free descriptors meanwhile.
      bool exhausted = ec == asio::error::no_descriptors || ec.value() == ENFILE ||
                       ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
      std::string what = ec.message();
      if (!exhausted) {
        log::warn("accept failed: " + what);
        continue;
      }
      if (backoff.count() == 0) {
        log::warn("accept failed: " + what + "; backing off");
        ++im.ctx.http_metrics.accept_backoffs;
      }
      backoff = std::min(std::max(backoff * 2, std::chrono::milliseconds(10)),
                         std::chrono::milliseconds(1000));
      asio::steady_timer wait(im.ex, backoff);
      boost::system::error_code wec;
      co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, wec));
      continue;
    }
    if (backoff.count() != 0) log::info("accepting connections again");
    backoff = std::chrono::milliseconds(0);
    asio::co_spawn(im.ex, im.session(std::move(socket)), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log::error("connection crashed", {{"error", ex.what()}});
      }
    });
  }
}

awaitable<void> HttpServer::stop() {
  auto& im = *impl_;
  im.stopping = true;
  boost::system::error_code ec;
  im.acceptor.close(ec);
  asio::steady_timer poll(im.ex);
  while (!im.sessions.empty()) {
    for (auto& [id, s] : im.sessions)
      if (!s.second) s.first->cancel();  // idle between requests: close now
    poll.expires_after(std::chrono::milliseconds(20));
    co_await poll.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace bw
