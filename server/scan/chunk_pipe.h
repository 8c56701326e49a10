// A bounded pipe of byte chunks from a coroutine on the io_context (the network) to a
// blocking reader on a worker thread (decompression and tar parsing). The producer suspends
// while `capacity` chunks wait, so memory stays flat whatever the layer size; the reader never
// depends on the io_context running, so shutdown cannot strand a worker.
//
// Thread-safety: push/finish/fail run on the io_context's single thread; pop/close_reader on
// any one other thread.
#pragma once

#include "common/error.h"
#include "layer/byte_source.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace bw {

class ChunkPipe : public std::enable_shared_from_this<ChunkPipe> {
 public:
  ChunkPipe(boost::asio::any_io_executor io, std::size_t capacity);

  // Queues a chunk, suspending while the pipe is full. False once the reader has gone.
  boost::asio::awaitable<bool> push(std::string chunk);
  // The stream ended and was verified: pop() returns nullopt after the queued chunks.
  void finish();
  // The stream failed: pop() returns this error after the queued chunks.
  void fail(Error e);

  // Blocks until a chunk, the end (nullopt) or the failure is available.
  Result<std::optional<std::string>> pop();
  // The reader stops; pending and future pushes return false.
  void close_reader();

 private:
  void wake_producer();

  boost::asio::any_io_executor io_;
  const std::size_t capacity_;
  boost::asio::steady_timer space_;  // io thread only: the producer waits on it while full

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;  // guarded by mu_
  bool finished_ = false;          // guarded by mu_
  bool reader_closed_ = false;     // guarded by mu_
  std::optional<Error> failure_;   // guarded by mu_
};

// Reads a ChunkPipe as a ByteSource (on the worker thread).
class PipeSource : public ByteSource {
 public:
  explicit PipeSource(std::shared_ptr<ChunkPipe> pipe) : pipe_(std::move(pipe)) {}
  ~PipeSource() override { pipe_->close_reader(); }
  Result<std::size_t> read(char* buf, std::size_t n) override;

 private:
  std::shared_ptr<ChunkPipe> pipe_;
  std::string current_;
  std::size_t offset_ = 0;
  bool ended_ = false;
};

}  // namespace bw
