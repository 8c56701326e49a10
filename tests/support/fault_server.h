// An in-process HTTP server for faults a real registry will not produce on demand: wrong
// digests, truncated bodies, dropped connections, slow drips, redirects, 429 and 503. Each
// connection serves one request, answered by a handler the test sets; raw replies allow
// Content-Length to lie. Also serves as the token service of the bearer-auth registry tests.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace bw::test {

struct SeenRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct Reply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::size_t send_bytes = std::string::npos;  // close after this many body bytes
  std::chrono::milliseconds drip{0};           // pause between body bytes
  long long content_length = -1;               // -1: body.size()
};

class FaultServer {
 public:
  using Handler = std::function<Reply(const SeenRequest&)>;
  explicit FaultServer(Handler handler, const std::string& address = "127.0.0.1");
  ~FaultServer();

  std::string host() const;  // "127.0.0.1:PORT"
  unsigned short port() const;
  std::vector<SeenRequest> requests() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bw::test
