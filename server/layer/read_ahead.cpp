#include "layer/read_ahead.h"

#include <cstring>
#include <ctime>

namespace bw {

namespace {

double thread_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

ReadAheadSource::ReadAheadSource(ByteSource& in, std::size_t block, std::size_t depth)
    : in_(in),
      block_(block == 0 ? 1 : block),
      depth_(depth == 0 ? 1 : depth),
      thread_([this](std::stop_token stop) { run(stop); }) {}

ReadAheadSource::~ReadAheadSource() {
  thread_.request_stop();
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ReadAheadSource::run(std::stop_token stop) {
  const double start = thread_cpu();
  std::optional<Error> failure;
  try {
    while (!stop.stop_requested()) {
      Block block{std::make_unique_for_overwrite<char[]>(block_), 0};
      bool end = false;
      // A whole block per hand-over: the reader wakes once per block, not per decoder call.
      while (block.size < block_ && !stop.stop_requested()) {
        auto r = in_.read(block.data.get() + block.size, block_ - block.size);
        if (!r) {
          failure = r.error();
          break;
        }
        if (*r == 0) {
          end = true;
          break;
        }
        block.size += *r;
      }
      reader_cpu_.store(thread_cpu() - start, std::memory_order_relaxed);
      std::unique_lock lock(mu_);
      if (block.size > 0) {
        if (!cv_.wait(lock, stop, [&] { return blocks_.size() < depth_; })) return;
        blocks_.push_back(std::move(block));
      }
      if (failure || end) break;
      cv_.notify_all();
    }
  } catch (const std::exception& e) {
    failure = make_error(Errc::internal, std::string("reading ahead: ") + e.what());
  }
  std::lock_guard lock(mu_);
  ended_ = true;
  failure_ = std::move(failure);
  cv_.notify_all();
}

Result<std::size_t> ReadAheadSource::read(char* buf, std::size_t n) {
  if (offset_ == current_.size) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !blocks_.empty() || ended_; });
    if (blocks_.empty()) {
      if (failure_) return *failure_;
      return std::size_t{0};
    }
    current_ = std::move(blocks_.front());
    blocks_.pop_front();
    offset_ = 0;
    lock.unlock();
    cv_.notify_all();
  }
  std::size_t k = std::min(n, current_.size - offset_);
  std::memcpy(buf, current_.data.get() + offset_, k);
  offset_ += k;
  return k;
}

}  // namespace bw
