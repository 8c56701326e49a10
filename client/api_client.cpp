#include "api_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

namespace bw::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

Result<ApiClient> ApiClient::create(const std::string& server, std::string token) {
  auto u = boost::urls::parse_absolute_uri(server);
  if (!u || u->scheme() != "http" || u->encoded_host().empty())
    return make_error(Errc::bad_request, "server must be http://HOST:PORT, got \"" + server + "\"");
  ApiClient c;
  c.server_ = server;
  c.token_ = std::move(token);
  c.host_ = std::string(u->encoded_host_address());
  if (c.host_.starts_with('[')) c.host_ = c.host_.substr(1, c.host_.size() - 2);
  c.port_ = u->has_port() ? std::string(u->port()) : "80";
  return c;
}

std::string Reply::header(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (beast::iequals(k, name)) return v;
  return {};
}

Result<Reply> ApiClient::call(const std::string& method, const std::string& target,
                              const std::string& body, std::chrono::seconds timeout,
                              const std::string& content_type) const {
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
  // Leave room beyond a server-side long poll of `timeout`.
  stream.expires_after(timeout + std::chrono::seconds(15));
  http::write(stream, req, ec);
  if (ec) return make_error(Errc::unavailable, "cannot send to " + server_ + ": " + ec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  if (method == "HEAD") parser.skip(true);
  http::read(stream, buffer, parser, ec);
  if (ec) return make_error(Errc::unavailable, "no answer from " + server_ + ": " + ec.message());
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  Reply reply{static_cast<int>(parser.get().result_int()), std::move(parser.get().body()), {}};
  for (auto& h : parser.get().base())
    reply.headers.emplace_back(std::string(h.name_string()), std::string(h.value()));
  return reply;
}

}  // namespace bw::cli
