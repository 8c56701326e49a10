// A source read ahead on a thread of its own: inflating a layer is its slowest step, and run
// beside hashing the inflated bytes and walking the tar it puts a second core to work, as a
// `curl | igzip -dc | tar -t` pipeline does. Blocks pass through a bounded queue, so memory
// stays at `depth` blocks whatever the layer.
#pragma once

#include "layer/byte_source.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace bw {

class ReadAheadSource : public ByteSource {
 public:
  // Starts reading `in` at once. `in` must outlive this source; no one else may read it until
  // this source is gone.
  explicit ReadAheadSource(ByteSource& in, std::size_t block = 256 * 1024, std::size_t depth = 4);
  // Stops the reader: waits for a read of `in` under way to return.
  ~ReadAheadSource() override;
  ReadAheadSource(const ReadAheadSource&) = delete;
  ReadAheadSource& operator=(const ReadAheadSource&) = delete;

  Result<std::size_t> read(char* buf, std::size_t n) override;
  // The CPU time the reading thread has used so far: the layer's CPU budget counts it too.
  double reader_cpu_seconds() const { return reader_cpu_.load(std::memory_order_relaxed); }

 private:
  void run(std::stop_token stop);

  ByteSource& in_;
  const std::size_t block_;
  const std::size_t depth_;
  std::atomic<double> reader_cpu_{0};

  std::mutex mu_;
  std::condition_variable_any cv_;
  struct Block {
    std::unique_ptr<char[]> data;
    std::size_t size = 0;
  };
  std::deque<Block> blocks_;      // guarded by mu_
  bool ended_ = false;            // guarded by mu_: `in` is at its end, or failed
  std::optional<Error> failure_;  // guarded by mu_

  Block current_;  // the reader's side only
  std::size_t offset_ = 0;
  std::jthread thread_;  // last: started once the rest is in place, stopped first
};

}  // namespace bw
