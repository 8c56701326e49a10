// A forward proxy for tests: CONNECT tunnels (for https targets) and absolute-form requests (for
// http targets), with optional basic proxy authentication. Records what it was asked for.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace bw::test {

class TestProxy {
 public:
  // `credentials`: "user:pass" required in Proxy-Authorization, or empty for none.
  explicit TestProxy(std::string credentials = "");
  ~TestProxy();
  std::string url() const;  // "http://127.0.0.1:PORT"
  // Request lines seen: "CONNECT 127.0.0.1:5000" or "GET http://127.0.0.1:5000/v2/".
  std::vector<std::string> seen() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bw::test
