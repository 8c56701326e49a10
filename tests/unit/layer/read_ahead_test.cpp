#include "layer/read_ahead.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <stdexcept>

using namespace bw;

namespace {

// Serves `data` in reads of odd sizes, then fails with `error` if set; counts what it served.
class Trickle : public ByteSource {
 public:
  Trickle(std::string data, std::optional<Error> error = std::nullopt)
      : data_(std::move(data)), error_(std::move(error)) {}
  Result<std::size_t> read(char* buf, std::size_t n) override {
    if (pos_ == data_.size()) {
      if (error_) return *error_;
      return std::size_t{0};
    }
    std::size_t k = std::min({n, data_.size() - pos_, std::size_t{1 + (pos_ * 7919) % 5003}});
    std::copy_n(data_.data() + pos_, k, buf);
    pos_ += k;
    served += k;
    return k;
  }
  std::atomic<std::size_t> served{0};

 private:
  std::string data_;
  std::optional<Error> error_;
  std::size_t pos_ = 0;
};

std::string random_bytes(std::size_t n) {
  std::mt19937 gen(42);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(gen());
  return out;
}

Result<std::string> read_all(ByteSource& src, std::size_t chunk) {
  std::string out, buf(chunk, '\0');
  while (true) {
    auto r = src.read(buf.data(), buf.size());
    if (!r) return r.error();
    if (*r == 0) return out;
    out.append(buf.data(), *r);
  }
}

}  // namespace

TEST_CASE("read ahead: every byte in order across blocks, then the end, which stays the end") {
  const std::string data = random_bytes(3 * 1000 * 1000 + 17);
  Trickle in(data);
  ReadAheadSource ahead(in, 64 * 1024, 3);
  auto got = read_all(ahead, 10007);
  REQUIRE(got);
  CHECK(*got == data);
  char c;
  CHECK(*ahead.read(&c, 1) == 0);
  CHECK(ahead.reader_cpu_seconds() >= 0);
}

TEST_CASE("read ahead: the source's failure after the bytes before it") {
  const std::string data = random_bytes(500 * 1000);
  Trickle in(data, make_error(Errc::digest_mismatch, "blob hashes to something else"));
  ReadAheadSource ahead(in, 64 * 1024, 2);
  std::string got, buf(4096, '\0');
  Result<std::size_t> r = std::size_t{1};
  while ((r = ahead.read(buf.data(), buf.size())) && *r > 0) got.append(buf.data(), *r);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::digest_mismatch);
  CHECK(got == data);
}

TEST_CASE("read ahead: a reader that stops early leaves at most the queue's depth read ahead") {
  const std::string data = random_bytes(8 * 1000 * 1000);
  Trickle in(data);
  {
    ReadAheadSource ahead(in, 64 * 1024, 2);
    char buf[100];
    REQUIRE(*ahead.read(buf, sizeof buf) > 0);
  }  // stopped and joined here, with most of the source unread
  // The block the reader holds, two queued and one being filled when it stopped.
  CHECK(in.served.load() <= 4 * 64 * 1024);
  CHECK(in.served.load() < data.size());
}

TEST_CASE("read ahead: a source that throws is a failure after the blocks before it, not a crash") {
  // Serves whole reads of 'x' until `limit` bytes, then throws (an allocation failing in a
  // decoder, say): the exception stays on the read-ahead thread and reaches the reader as an
  // error.
  class Throwing : public ByteSource {
   public:
    Result<std::size_t> read(char* buf, std::size_t n) override {
      if (served_ >= 300 * 1024) throw std::runtime_error("decoder out of memory");
      std::fill_n(buf, n, 'x');
      served_ += n;
      return n;
    }

   private:
    std::size_t served_ = 0;
  } in;
  ReadAheadSource ahead(in, 64 * 1024, 2);
  std::size_t got = 0;
  std::string buf(4096, '\0');
  Result<std::size_t> r = std::size_t{1};
  while ((r = ahead.read(buf.data(), buf.size())) && *r > 0) got += *r;
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::internal);
  CHECK(r.error().message.find("reading ahead: decoder out of memory") != std::string::npos);
  // The whole blocks read before the throw arrive; the partial one is dropped with the error.
  CHECK(got % (64 * 1024) == 0);
  CHECK(got >= 256 * 1024);
}
