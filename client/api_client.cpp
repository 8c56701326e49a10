#include "api_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>

namespace bw::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;

Result<ApiClient> ApiClient::create(const std::string& server, std::string token,
                                    std::string cacert) {
  auto u = boost::urls::parse_absolute_uri(server);
  if (!u || (u->scheme() != "http" && u->scheme() != "https") || u->encoded_host().empty())
    return make_error(Errc::bad_request,
                      "server must be http(s)://HOST:PORT, got \"" + server + "\"");
  ApiClient c;
  c.server_ = server;
  c.token_ = std::move(token);
  c.tls_ = u->scheme() == "https";
  c.cacert_ = std::move(cacert);
  c.host_ = std::string(u->encoded_host_address());
  if (c.host_.starts_with('[')) c.host_ = c.host_.substr(1, c.host_.size() - 2);
  c.port_ = u->has_port() ? std::string(u->port()) : (c.tls_ ? "443" : "80");
  return c;
}

std::string Reply::header(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (beast::iequals(k, name)) return v;
  return {};
}

namespace {

// One exchange on `stream` (plain or TLS), with the caller's deadline.
template <class Stream>
Result<Reply> exchange_on(Stream& stream, beast::tcp_stream& lowest,
                          http::request<http::string_body>& req, const std::string& method,
                          std::chrono::seconds timeout, const std::string& server,
                          const ApiClient::BodySink* sink) {
  beast::error_code ec;
  // Leave room beyond a server-side long poll of `timeout`.
  lowest.expires_after(timeout + std::chrono::seconds(15));
  http::write(stream, req, ec);
  if (ec) return make_error(Errc::unavailable, "cannot send to " + server + ": " + ec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> head;
  // A streamed answer carries its summary in a header.
  head.header_limit(64 << 10);
  if (method == "HEAD") head.skip(true);
  http::read_header(stream, buffer, head, ec);
  if (ec) return make_error(Errc::unavailable, "no answer from " + server + ": " + ec.message());
  Reply reply{static_cast<int>(head.get().result_int()), {}, {}};
  for (auto& h : head.get().base())
    reply.headers.emplace_back(std::string(h.name_string()), std::string(h.value()));
  if (sink && reply.status / 100 == 2) {
    http::response_parser<http::buffer_body> parser(std::move(head));
    parser.body_limit(boost::none);
    std::vector<char> piece(1 << 20);
    while (!parser.is_done()) {
      parser.get().body().data = piece.data();
      parser.get().body().size = piece.size();
      lowest.expires_after(timeout + std::chrono::seconds(15));
      http::read(stream, buffer, parser, ec);
      if (ec == http::error::need_buffer) ec = {};
      if (ec)
        return make_error(Errc::unavailable,
                          "the answer from " + server + " ended short: " + ec.message());
      const std::size_t got = piece.size() - parser.get().body().size;
      if (got && !(*sink)(std::string_view(piece.data(), got)))
        return make_error(Errc::cancelled, "the transfer was stopped");
    }
    return reply;
  }
  http::response_parser<http::string_body> parser(std::move(head));
  parser.body_limit(64 << 20);
  http::read(stream, buffer, parser, ec);
  if (ec) return make_error(Errc::unavailable, "no answer from " + server + ": " + ec.message());
  reply.body = std::move(parser.get().body());
  return reply;
}

}  // namespace

Result<Reply> ApiClient::call(const std::string& method, const std::string& target,
                              const std::string& body, std::chrono::seconds timeout,
                              const std::string& content_type) const {
  return exchange(method, target, body, timeout, content_type, nullptr);
}

Result<Reply> ApiClient::download(const std::string& method, const std::string& target,
                                  const std::string& body, const BodySink& sink,
                                  std::chrono::seconds timeout) const {
  return exchange(method, target, body, timeout, "application/json", &sink);
}

Result<Reply> ApiClient::exchange(const std::string& method, const std::string& target,
                                  const std::string& body, std::chrono::seconds timeout,
                                  const std::string& content_type, const BodySink* sink) const {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  asio::ip::tcp::resolver resolver(ioc);
  auto endpoints = resolver.resolve(host_, port_, ec);
  if (ec) return make_error(Errc::unavailable, "cannot resolve " + host_ + ": " + ec.message());
  stream.expires_after(std::chrono::seconds(10));
  stream.connect(endpoints, ec);
  if (ec)
    return make_error(Errc::unavailable,
                      "cannot reach bulwarkd at " + server_ + ": " + ec.message());
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, host_ + ":" + port_);
  req.set(http::field::user_agent, "bulwark-cli");
  if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
  if (!body.empty() || method == "PUT" || method == "POST") {
    req.set(http::field::content_type, content_type);
    req.body() = body;
  }
  req.prepare_payload();
  if (!tls_) {
    auto reply = exchange_on(stream, stream, req, method, timeout, server_, sink);
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    return reply;
  }
  // HTTPS: the system CAs (OpenSSL's default paths, so SSL_CERT_FILE works) or --cacert, SNI,
  // and the server's name checked against its certificate. A token never crosses in clear.
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  if (cacert_.empty())
    ctx.set_default_verify_paths(ec);
  else
    ctx.load_verify_file(cacert_, ec);
  if (ec) return make_error(Errc::bad_request, "cannot load CA certificates: " + ec.message());
  ctx.set_verify_mode(ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> tls(std::move(stream), ctx);
  boost::system::error_code addr_ec;
  asio::ip::make_address(host_, addr_ec);
  if (addr_ec && !SSL_set_tlsext_host_name(tls.native_handle(), host_.c_str()))
    return make_error(Errc::internal, "cannot set SNI");
  tls.set_verify_callback(ssl::host_name_verification(host_));
  beast::get_lowest_layer(tls).expires_after(std::chrono::seconds(10));
  tls.handshake(ssl::stream_base::client, ec);
  if (ec)
    return make_error(Errc::unavailable,
                      "TLS with bulwarkd at " + server_ + " failed: " + ec.message());
  auto reply = exchange_on(tls, beast::get_lowest_layer(tls), req, method, timeout, server_, sink);
  tls.shutdown(ec);  // stream_truncated from a server that just closes is harmless
  return reply;
}

}  // namespace bw::cli
