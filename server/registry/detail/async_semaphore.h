// A counting semaphore for coroutines on one thread: acquire() suspends while `limit` holders
// exist. Used to cap concurrent requests per registry.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <deque>
#include <memory>

namespace bw::detail {

class AsyncSemaphore {
 public:
  AsyncSemaphore(boost::asio::any_io_executor ex, std::size_t limit)
      : ex_(std::move(ex)), free_(limit) {}

  // Holds one unit until destroyed.
  class Permit {
   public:
    explicit Permit(AsyncSemaphore* s) : s_(s) {}
    Permit(Permit&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    Permit& operator=(Permit&&) = delete;
    ~Permit() {
      if (s_) s_->release();
    }

   private:
    AsyncSemaphore* s_;
  };

  // A waiter cancelled (its transfer raced a timeout or a scan's cancel) leaves the queue and
  // passes on a wake-up it may have been given, so that no unit is stranded.
  boost::asio::awaitable<Permit> acquire() {
    while (free_ == 0) {
      auto t = std::make_shared<boost::asio::steady_timer>(
          ex_, boost::asio::steady_timer::time_point::max());
      waiters_.push_back(t);
      boost::system::error_code ec;
      co_await t->async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      std::erase(waiters_, t);
      auto state = co_await boost::asio::this_coro::cancellation_state;
      if (state.cancelled() != boost::asio::cancellation_type::none) {
        wake_next();
        throw boost::system::system_error(boost::asio::error::operation_aborted);
      }
    }
    --free_;
    co_return Permit(this);
  }

 private:
  void release() {
    ++free_;
    wake_next();
  }
  void wake_next() {
    if (free_ > 0 && !waiters_.empty()) {
      waiters_.front()->cancel();
      waiters_.pop_front();
    }
  }

  boost::asio::any_io_executor ex_;
  std::size_t free_;
  std::deque<std::shared_ptr<boost::asio::steady_timer>> waiters_;
};

}  // namespace bw::detail
