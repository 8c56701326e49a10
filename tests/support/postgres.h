// A throwaway PostgreSQL 15 for tests: initdb in a temporary directory, the server on a free
// loopback port, run as an unprivileged user (postgres refuses root), stopped at the end.
#pragma once

#include "process.h"

#include <string>

namespace bw::test {

class LocalPostgres {
 public:
  // Whether Debian's postgresql-15 is installed; tests skip with a message when it is not.
  static bool available();

  LocalPostgres();  // throws std::runtime_error when the server cannot start
  ~LocalPostgres();
  LocalPostgres(const LocalPostgres&) = delete;
  LocalPostgres& operator=(const LocalPostgres&) = delete;

  // A new, empty database; returns its postgresql:// URL.
  std::string create_database();
  std::string url(const std::string& database) const;
  unsigned short port() const { return port_; }

  // Stops and starts the server on the same port and data (the store must reconnect).
  void stop();
  void start();

 private:
  int as_owner(std::vector<std::string> argv, std::string& out) const;

  TempDir dir_;
  std::string data_, owner_;
  unsigned short port_ = 0;
  int databases_ = 0;
  bool running_ = false;
};

}  // namespace bw::test
