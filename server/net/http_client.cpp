#include "net/http_client.h"

#include "common/log.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <deque>

namespace bw::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::awaitable;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

constexpr std::uint64_t kErrorBodyLimit = 64 * 1024;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string authority(const Url& u) {
  bool v6 = u.host.find(':') != std::string::npos;
  return (v6 ? "[" + u.host + "]" : u.host) + ":" + u.port;
}

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

Error transport_error(const Url& url, std::string_view what, const boost::system::error_code& ec) {
  if (ec == beast::error::timeout)
    return make_error(Errc::timeout, std::string(what) + " " + url.origin() + " timed out");
  return make_error(Errc::registry_unreachable,
                    std::string(what) + " " + url.origin() + ": " + ec.message());
}

// Connecting failed: refused, unroutable, timed out or a failed handshake all read the same,
// so that error messages cannot serve as a port scanner. Only an untrusted certificate is
// named, since the operator must act on it (ca_file). The detail goes to the debug log.
Error unreachable(const Url& url, std::string_view what, const boost::system::error_code& ec) {
  log::debug("connection to " + url.origin() + " failed: " + std::string(what) + ": " +
             ec.message());
  if (ec.category() == asio::error::get_ssl_category() &&
      ec.message().find("certificate verify failed") != std::string::npos)
    return make_error(Errc::registry_unreachable,
                      url.origin() +
                          " is unreachable: TLS handshake failed, certificate verify "
                          "failed (configure its ca_file)");
  return make_error(Errc::registry_unreachable, url.origin() + " is unreachable");
}

}  // namespace

std::string Url::origin() const {
  bool v6 = host.find(':') != std::string::npos;
  return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + port;
}

Result<Url> parse_url(std::string_view text) {
  auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed)
    return make_error(Errc::bad_request,
                      "invalid URL \"" + std::string(text.substr(0, 200)) + "\"");
  Url u;
  u.scheme = std::string(parsed->scheme());
  std::transform(u.scheme.begin(), u.scheme.end(), u.scheme.begin(), ::tolower);
  if (u.scheme != "http" && u.scheme != "https")
    return make_error(Errc::bad_request, "URL scheme must be http or https");
  if (!parsed->has_authority() || parsed->encoded_host().empty())
    return make_error(Errc::bad_request, "URL has no host");
  if (parsed->has_userinfo())
    return make_error(Errc::bad_request, "URL must not carry credentials");
  u.host = std::string(parsed->encoded_host_address());
  if (u.host.starts_with('[')) u.host = u.host.substr(1, u.host.size() - 2);
  u.port = parsed->has_port() ? std::string(parsed->port()) : (u.scheme == "https" ? "443" : "80");
  u.target = std::string(parsed->encoded_resource());
  if (u.target.empty() || u.target.front() != '/') u.target.insert(0, "/");
  return u;
}

Result<Url> resolve_url(const Url& base, std::string_view location) {
  auto ref = boost::urls::parse_uri_reference(location);
  if (!ref) return make_error(Errc::registry_error, "redirect with an invalid Location");
  std::string base_text = base.str();  // the parsed view points into it
  auto b = boost::urls::parse_uri(base_text);
  if (!b) return make_error(Errc::internal, "base URL does not parse");
  boost::urls::url dest;
  auto r = boost::urls::resolve(*b, *ref, dest);
  if (!r) return make_error(Errc::registry_error, "redirect Location does not resolve");
  return parse_url(dest.buffer());
}

std::string HttpResponse::header(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

// Beast reads a socket into the connection's buffer at most 64 KiB at a time, and no more than
// the buffer's free capacity (512 bytes when it has none): reserving room for two full reads
// keeps a blob's body at one 64 KiB read per wake-up instead of one per 512 bytes.
constexpr std::size_t kReadBufferBytes = 128 * 1024;

struct Connection {
  std::string origin;
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  bool reused = false;
  // Plain HTTP through a proxy: requests use the absolute form and carry the proxy's credentials.
  bool absolute_form = false;
  std::string proxy_authorization;

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  // Runs `op` on whichever stream this connection has.
  template <class Op>
  awaitable<std::tuple<boost::system::error_code, std::size_t>> on_stream(Op op) {
    if (tls) co_return co_await op(*tls);
    co_return co_await op(*plain);
  }
};

struct HttpClient::Impl {
  asio::any_io_executor ex;
  HttpOptions opt;
  ssl::context default_ctx{ssl::context::tls_client};
  std::map<std::string, std::unique_ptr<ssl::context>> ctx_by_authority;
  std::map<std::string, std::deque<std::unique_ptr<Connection>>> idle;

  Impl(asio::any_io_executor e, HttpOptions o) : ex(std::move(e)), opt(std::move(o)) {
    init_ctx(default_ctx);
  }

  static void init_ctx(ssl::context& ctx) {
    ctx.set_default_verify_paths();
    ctx.set_verify_mode(ssl::verify_peer);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  }

  Result<ssl::context*> ctx_for(const Url& u) {
    std::string key = authority(u);
    auto file = opt.ca_files.find(key);
    if (file == opt.ca_files.end()) file = opt.ca_files.find(u.host);
    if (file == opt.ca_files.end()) return &default_ctx;
    auto& slot = ctx_by_authority[file->first];
    if (!slot) {
      auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
      init_ctx(*ctx);
      boost::system::error_code ec;
      ctx->load_verify_file(file->second, ec);
      if (ec)
        return make_error(Errc::internal,
                          "cannot load CA file for " + file->first + ": " + ec.message());
      slot = std::move(ctx);
    }
    return slot.get();
  }

  awaitable<Result<Endpoints>> resolve(const Url& u, const std::string& host,
                                       const std::string& port) {
    if (opt.resolver) co_return co_await opt.resolver(host, port);
    tcp::resolver resolver(ex);
    auto [ec, results] = co_await resolver.async_resolve(host, port, kTuple);
    if (ec) co_return transport_error(u, "cannot resolve " + host + " for", ec);
    Endpoints eps;
    for (auto& r : results) eps.push_back(r.endpoint());
    co_return eps;
  }

  awaitable<Result<std::unique_ptr<Connection>>> connect(const Url& u) {
    auto proxy = choose_proxy(opt.proxy, u.scheme, u.host);
    if (!proxy) co_return proxy.error();
    const std::string& host = *proxy ? (*proxy)->host : u.host;
    const std::string& port = *proxy ? (*proxy)->port : u.port;
    auto eps = co_await resolve(u, host, port);
    if (!eps) co_return eps.error();
    if (!*proxy && opt.address_allowed) {
      // Checked on the resolved addresses, so a name that resolves to a refused address (a
      // DNS-rebinding trick) is refused too.
      std::erase_if(*eps,
                    [&](const tcp::endpoint& ep) { return !opt.address_allowed(ep.address()); });
      if (eps->empty())
        co_return make_error(Errc::registry_not_allowed,
                             host +
                                 " resolves only to addresses this server refuses to contact "
                                 "(loopback, link-local or metadata)");
    }
    if (eps->empty()) co_return make_error(Errc::registry_unreachable, "no address for " + host);
    auto c = std::make_unique<Connection>();
    c->origin = u.origin();
    c->buffer.reserve(kReadBufferBytes);
    beast::tcp_stream tcp_stream(ex);
    tcp_stream.expires_after(opt.connect_timeout);
    auto [ec, ep] = co_await tcp_stream.async_connect(*eps, kTuple);
    if (ec && *proxy) co_return transport_error(u, "cannot connect to proxy " + host + " for", ec);
    if (ec) co_return unreachable(u, "connect", ec);
    if (*proxy && u.scheme == "https") {
      // Tunnel: CONNECT host:port, then TLS end to end with the registry.
      http::request<http::empty_body> req{http::verb::connect, authority(u), 11};
      req.set(http::field::host, authority(u));
      if (!(*proxy)->authorization.empty())
        req.set(http::field::proxy_authorization, (*proxy)->authorization);
      tcp_stream.expires_after(opt.io_timeout);
      auto [wec, wn] = co_await http::async_write(tcp_stream, req, kTuple);
      http::response_parser<http::empty_body> res;
      res.skip(true);  // a 2xx answer to CONNECT has no body: the tunnel follows
      beast::flat_buffer buf;
      boost::system::error_code rec = wec;
      if (!rec)
        std::tie(rec, std::ignore) = co_await http::async_read_header(tcp_stream, buf, res, kTuple);
      if (rec) co_return transport_error(u, "proxy " + host + " failed to tunnel to", rec);
      if (res.get().result_int() != 200)
        co_return make_error(Errc::registry_unreachable,
                             "proxy " + host + " refused to tunnel to " + authority(u) + " (HTTP " +
                                 std::to_string(res.get().result_int()) + ")");
    }
    if (u.scheme == "http") {
      c->plain = std::make_unique<beast::tcp_stream>(std::move(tcp_stream));
      if (*proxy) {
        c->absolute_form = true;
        c->proxy_authorization = (*proxy)->authorization;
      }
      co_return c;
    }
    auto ctx = ctx_for(u);
    if (!ctx) co_return ctx.error();
    c->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(tcp_stream), **ctx);
    boost::system::error_code addr_ec;
    asio::ip::make_address(u.host, addr_ec);
    if (addr_ec && !SSL_set_tlsext_host_name(c->tls->native_handle(), u.host.c_str()))
      co_return make_error(Errc::internal, "cannot set SNI");
    c->tls->set_verify_callback(ssl::host_name_verification(u.host));
    c->lowest().expires_after(opt.connect_timeout);
    auto [hec] = co_await c->tls->async_handshake(ssl::stream_base::client, kTuple);
    if (hec) co_return unreachable(u, "TLS handshake", hec);
    co_return c;
  }

  awaitable<Result<std::unique_ptr<Connection>>> acquire(const Url& u) {
    auto it = idle.find(u.origin());
    if (it != idle.end() && !it->second.empty()) {
      auto c = std::move(it->second.back());
      it->second.pop_back();
      c->reused = true;
      co_return c;
    }
    co_return co_await connect(u);
  }

  void release(std::unique_ptr<Connection> c) {
    auto& q = idle[c->origin];
    if (q.size() >= opt.max_idle_per_origin) q.pop_front();
    q.push_back(std::move(c));
  }

  http::request<http::string_body> build(const HttpRequest& req, bool send_auth,
                                         const Connection& c) {
    http::request<http::string_body> r;
    r.method_string(req.method);
    r.target(c.absolute_form ? req.url.scheme + "://" + authority(req.url) + req.url.target
                             : req.url.target);
    if (!c.proxy_authorization.empty())
      r.set(http::field::proxy_authorization, c.proxy_authorization);
    r.version(11);
    bool default_port = (req.url.scheme == "https" && req.url.port == "443") ||
                        (req.url.scheme == "http" && req.url.port == "80");
    std::string host =
        req.url.host.find(':') != std::string::npos ? "[" + req.url.host + "]" : req.url.host;
    r.set(http::field::host, default_port ? host : host + ":" + req.url.port);
    r.set(http::field::user_agent, "bulwark/0.1");
    for (auto& [k, v] : req.headers) r.set(k, v);
    if (send_auth && !req.authorization.empty())
      r.set(http::field::authorization, req.authorization);
    if (req.range_from > 0)
      r.set(http::field::range, "bytes=" + std::to_string(req.range_from) + "-");
    if (!req.body.empty()) {
      r.set(http::field::content_type, req.content_type);
      r.body() = req.body;
    }
    r.prepare_payload();
    return r;
  }

  static void copy_headers(const http::fields& f, HttpResponse& out) {
    out.headers.clear();
    for (auto& h : f)
      out.headers.emplace_back(std::string(h.name_string()), std::string(h.value()));
  }

  // One exchange on one connection, no redirects. A 2xx body goes to on_chunk when set.
  awaitable<Result<HttpResponse>> exchange_once(const HttpRequest& req, bool send_auth,
                                                std::uint64_t body_limit,
                                                const HeadHandler* on_head,
                                                const ChunkHandler* on_chunk) {
    for (int attempt = 0;; ++attempt) {
      auto conn = co_await acquire(req.url);
      if (!conn) co_return conn.error();
      auto& c = **conn;
      auto msg = build(req, send_auth, c);
      c.lowest().expires_after(opt.io_timeout);
      auto [wec, wn] =
          co_await c.on_stream([&](auto& s) { return http::async_write(s, msg, kTuple); });
      http::response_parser<http::buffer_body> parser;
      parser.header_limit(opt.max_header_bytes);
      parser.body_limit(boost::none);  // bounded below, by our own counting
      if (req.method == "HEAD") parser.skip(true);
      boost::system::error_code ec = wec;
      if (!ec) {
        c.lowest().expires_after(opt.io_timeout);
        auto [hec, hn] = co_await c.on_stream(
            [&](auto& s) { return http::async_read_header(s, c.buffer, parser, kTuple); });
        ec = hec;
      }
      if (ec) {
        // A kept-alive connection the server closed meanwhile: retry once on a fresh one.
        if (c.reused && attempt == 0 &&
            (ec == http::error::end_of_stream || ec == asio::error::eof ||
             ec == asio::error::connection_reset || ec == asio::error::broken_pipe))
          continue;
        if (ec == http::error::header_limit)
          co_return make_error(Errc::registry_error,
                               "response headers from " + req.url.origin() + " exceed " +
                                   std::to_string(opt.max_header_bytes) + " bytes");
        co_return transport_error(req.url, "request to", ec);
      }

      HttpResponse out;
      out.url = req.url;
      out.status = static_cast<int>(parser.get().result_int());
      copy_headers(parser.get().base(), out);
      bool to_sink = on_chunk && out.status >= 200 && out.status < 300;
      if (to_sink && on_head && *on_head) {
        if (auto ok = (*on_head)(out); !ok) co_return ok.error();
      }
      std::uint64_t limit = to_sink ? UINT64_MAX : (on_chunk ? kErrorBodyLimit : body_limit);
      if (!to_sink && parser.content_length() && *parser.content_length() > limit)
        co_return make_error(Errc::payload_too_large, "response from " + req.url.origin() + " is " +
                                                          std::to_string(*parser.content_length()) +
                                                          " bytes, over the limit of " +
                                                          std::to_string(limit));

      if (to_sink && parser.content_length() && !parser.is_done()) {
        auto got = co_await read_sized_body(c, req.url, *parser.content_length(), *on_chunk);
        if (!got) co_return got.error();
        if (parser.keep_alive()) release(std::move(*conn));
        co_return out;
      }

      std::string chunk;
      std::uint64_t total = 0;
      // A small body (a manifest, a tag list) is read into a buffer its size, not a blob's
      // chunk: resizing zeroes it, once per request.
      const std::uint64_t chunk_bytes =
          to_sink || !parser.content_length()
              ? opt.stream_chunk_bytes
              : std::clamp<std::uint64_t>(*parser.content_length(), 1, opt.stream_chunk_bytes);
      while (!parser.is_done()) {
        chunk.resize(chunk_bytes);
        parser.get().body().data = chunk.data();
        parser.get().body().size = chunk.size();
        c.lowest().expires_after(opt.io_timeout);
        auto [rec, rn] = co_await c.on_stream(
            [&](auto& s) { return http::async_read(s, c.buffer, parser, kTuple); });
        // Bytes that arrived before a fault still count: a resumed transfer starts after them.
        std::size_t got = chunk.size() - parser.get().body().size;
        if (got > 0) {
          chunk.resize(got);
          total += got;
          if (to_sink) {
            if (!co_await (*on_chunk)(std::move(chunk)))
              co_return make_error(Errc::cancelled, "transfer stopped by its consumer");
            chunk = std::string();
          } else {
            if (total > limit)
              co_return make_error(Errc::payload_too_large, "response from " + req.url.origin() +
                                                                " exceeds " +
                                                                std::to_string(limit) + " bytes");
            out.body += chunk;
          }
        }
        if (rec && rec != http::error::need_buffer) {
          if (rec == http::error::partial_message || rec == http::error::end_of_stream ||
              rec == asio::error::eof)
            co_return make_error(Errc::registry_unreachable, "connection to " + req.url.origin() +
                                                                 " closed mid-body after " +
                                                                 std::to_string(total) + " bytes");
          co_return transport_error(req.url, "reading body from", rec);
        }
      }
      if (parser.keep_alive()) release(std::move(*conn));
      co_return out;
    }
  }

  // A blob's body of known length, read from the socket straight into the chunks handed on.
  // Beast's parser reads at most 64 KiB per call and copies out of the connection's buffer; here
  // each read takes what the socket holds, up to the rest of a chunk, and nothing is copied
  // twice. Chunks are handed on full (the last excepted), as the parser's were.
  awaitable<Result<void>> read_sized_body(Connection& c, const Url& url, std::uint64_t length,
                                          const ChunkHandler& on_chunk) {
    std::uint64_t total = 0;
    while (total < length) {
      std::string chunk(std::min<std::uint64_t>(length - total, opt.stream_chunk_bytes), '\0');
      std::size_t got = 0;
      boost::system::error_code ec;
      if (c.buffer.size() > 0) {  // what the header's read brought of the body
        got = asio::buffer_copy(asio::buffer(chunk), c.buffer.data());
        c.buffer.consume(got);
      }
      while (got < chunk.size()) {
        c.lowest().expires_after(opt.io_timeout);
        auto [rec, n] = co_await c.on_stream([&](auto& s) {
          return s.async_read_some(asio::buffer(chunk.data() + got, chunk.size() - got), kTuple);
        });
        got += n;
        if (rec) {
          ec = rec;
          break;
        }
      }
      // Bytes that arrived before a fault still count: a resumed transfer starts after them.
      if (got > 0) {
        chunk.resize(got);
        total += got;
        if (!co_await on_chunk(std::move(chunk)))
          co_return make_error(Errc::cancelled, "transfer stopped by its consumer");
      }
      if (ec == asio::error::eof || ec == ssl::error::stream_truncated)
        co_return make_error(Errc::registry_unreachable, "connection to " + url.origin() +
                                                             " closed mid-body after " +
                                                             std::to_string(total) + " bytes");
      if (ec) co_return transport_error(url, "reading body from", ec);
    }
    co_return Result<void>{};
  }

  awaitable<Result<HttpResponse>> run(HttpRequest req, std::uint64_t body_limit,
                                      const HeadHandler* on_head, const ChunkHandler* on_chunk) {
    const std::string auth_origin = req.url.origin();
    if (opt.url_allowed)
      if (auto ok = opt.url_allowed(req.url, false); !ok) co_return ok.error();
    for (int hops = 0;; ++hops) {
      bool send_auth = req.url.origin() == auth_origin;
      auto r = co_await exchange_once(req, send_auth, body_limit, on_head, on_chunk);
      if (!r || !is_redirect(r->status)) co_return r;
      if (hops >= opt.max_redirects)
        co_return make_error(Errc::registry_error, "too many redirects (more than " +
                                                       std::to_string(opt.max_redirects) + ")");
      auto loc = r->header("Location");
      if (loc.empty()) co_return make_error(Errc::registry_error, "redirect without Location");
      auto next = resolve_url(req.url, loc);
      if (!next) co_return next.error();
      // Never downgrade from TLS to plain text on a redirect.
      if (req.url.scheme == "https" && next->scheme != "https")
        co_return make_error(Errc::registry_error, "refusing redirect from https to http");
      bool cross_origin = next->origin() != auth_origin;
      bool keeps_body = r->status == 307 || r->status == 308;
      // A body (a refresh-token grant, say) never follows a redirect to another origin: a 307
      // or 308 would replay it there, and 301/302 turning POST into GET would send the
      // request somewhere its sender did not choose.
      if (cross_origin && (!req.body.empty() || (req.method != "GET" && req.method != "HEAD")))
        co_return make_error(Errc::registry_error,
                             "refusing to follow a redirect of a " + req.method + " request from " +
                                 req.url.origin() + " to another origin, " + next->origin());
      if (opt.url_allowed)
        if (auto ok = opt.url_allowed(*next, true); !ok) co_return ok.error();
      req.url = *next;
      if (r->status == 303 || (!keeps_body && req.method == "POST")) {
        req.method = "GET";
        req.body.clear();
      }
    }
  }
};

HttpClient::HttpClient(asio::any_io_executor ex, HttpOptions options)
    : impl_(std::make_unique<Impl>(std::move(ex), std::move(options))) {}
HttpClient::~HttpClient() = default;

awaitable<Result<HttpResponse>> HttpClient::fetch(HttpRequest req, std::uint64_t body_limit) {
  co_return co_await impl_->run(std::move(req), body_limit, nullptr, nullptr);
}

awaitable<Result<HttpResponse>> HttpClient::stream(HttpRequest req, HeadHandler on_head,
                                                   ChunkHandler on_chunk) {
  co_return co_await impl_->run(std::move(req), kErrorBodyLimit, &on_head, &on_chunk);
}

}  // namespace bw::net
