#include "scan/chunk_pipe.h"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstring>

namespace bw {

namespace asio = boost::asio;

ChunkPipe::ChunkPipe(asio::any_io_executor io, std::size_t capacity)
    : io_(io), capacity_(capacity == 0 ? 1 : capacity), space_(io) {}

asio::awaitable<bool> ChunkPipe::push(std::string chunk) {
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (reader_closed_) co_return false;
      if (queue_.size() < capacity_) {
        queue_.push_back(std::move(chunk));
        cv_.notify_one();
        co_return true;
      }
    }
    // A wake-up posted by the reader runs on this same thread, so it cannot slip in between
    // the check above and this wait.
    space_.expires_at(asio::steady_timer::time_point::max());
    boost::system::error_code ec;
    co_await space_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

void ChunkPipe::finish() {
  std::lock_guard lock(mu_);
  finished_ = true;
  cv_.notify_one();
}

void ChunkPipe::fail(Error e) {
  std::lock_guard lock(mu_);
  if (!failure_) failure_ = std::move(e);
  cv_.notify_one();
}

void ChunkPipe::wake_producer() {
  asio::post(io_, [self = shared_from_this()] { self->space_.cancel(); });
}

Result<std::optional<std::string>> ChunkPipe::pop() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !queue_.empty() || finished_ || failure_; });
  if (!queue_.empty()) {
    bool was_full = queue_.size() >= capacity_;
    std::string chunk = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    if (was_full) wake_producer();
    return std::optional<std::string>(std::move(chunk));
  }
  if (failure_) return *failure_;
  return std::optional<std::string>();
}

void ChunkPipe::close_reader() {
  {
    std::lock_guard lock(mu_);
    if (reader_closed_) return;
    reader_closed_ = true;
    queue_.clear();
  }
  wake_producer();
}

Result<std::size_t> PipeSource::read(char* buf, std::size_t n) {
  while (offset_ == current_.size()) {
    if (ended_) return std::size_t{0};
    auto next = pipe_->pop();
    if (!next) return next.error();
    if (!*next) {
      ended_ = true;
      return std::size_t{0};
    }
    current_ = std::move(**next);
    offset_ = 0;
  }
  std::size_t k = std::min(n, current_.size() - offset_);
  std::memcpy(buf, current_.data() + offset_, k);
  offset_ += k;
  return k;
}

}  // namespace bw
