// Connections each used by one thread at a time, lent out and given back. The backends keep
// their readers in one, so that the store's threads read in parallel: SQLite in WAL mode lets
// readers run beside the writer and each other, PostgreSQL serves each connection on its own.
// Private to store/.
#pragma once

#include <condition_variable>
#include <mutex>
#include <vector>

namespace bw::detail {

template <class Connection>
class ConnectionPool {
 public:
  explicit ConnectionPool(std::vector<Connection> connections) : all_(std::move(connections)) {
    for (auto& c : all_) free_.push_back(&c);
  }
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // A connection held until the lease goes away.
  class Lease {
   public:
    Lease(ConnectionPool& pool, Connection* c) : pool_(pool), c_(c) {}
    ~Lease() { pool_.give_back(c_); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection* operator->() const { return c_; }
    Connection& operator*() const { return *c_; }

   private:
    ConnectionPool& pool_;
    Connection* c_;
  };

  // Waits while every connection is lent out.
  Lease take() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !free_.empty(); });
    Connection* c = free_.back();
    free_.pop_back();
    return Lease(*this, c);
  }

 private:
  void give_back(Connection* c) {
    {
      std::lock_guard lock(mu_);
      free_.push_back(c);
    }
    cv_.notify_one();
  }

  std::vector<Connection> all_;  // never resized: leases point into it
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Connection*> free_;  // guarded by mu_
};

}  // namespace bw::detail
