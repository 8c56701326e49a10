#include "scan/chunk_pipe.h"

#include <doctest/doctest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <thread>

using namespace bw;
namespace asio = boost::asio;

TEST_CASE("the pipe carries every byte in order and bounds what waits") {
  asio::io_context ioc;
  auto pipe = std::make_shared<ChunkPipe>(ioc.get_executor(), 2);
  std::atomic<int> pushed{0};
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 100; ++i) {
          CHECK(co_await pipe->push(std::string(1000, static_cast<char>('a' + i % 26))));
          ++pushed;
        }
        pipe->finish();
      },
      asio::detached);
  std::string got;
  // Assertions stay on the test's thread (a failing REQUIRE on another calls std::terminate);
  // the reader only records what it saw, and stops after a bounded number of reads.
  std::atomic<bool> read_failed = false;
  std::atomic<int> ahead = 0;
  std::thread reader([&] {
    PipeSource src(pipe);
    char buf[333];
    for (int reads = 0; reads < 10'000; ++reads) {
      auto n = src.read(buf, sizeof buf);
      if (!n) {
        read_failed = true;
        break;
      }
      if (*n == 0) break;
      got.append(buf, *n);
      // The producer can be at most capacity chunks ahead of what was taken.
      ahead = std::max(ahead.load(), pushed.load() - static_cast<int>(got.size() / 1000));
    }
  });
  ioc.run_for(std::chrono::seconds(30));
  reader.join();
  CHECK_FALSE(read_failed);
  CHECK(ahead.load() <= 4);
  REQUIRE(got.size() == 100'000);
  CHECK(got[0] == 'a');
  CHECK(got[99'999] == static_cast<char>('a' + 99 % 26));
}

TEST_CASE("a failure reaches the reader after the queued chunks") {
  asio::io_context ioc;
  auto pipe = std::make_shared<ChunkPipe>(ioc.get_executor(), 4);
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        co_await pipe->push("abc");
        pipe->fail(make_error(Errc::digest_mismatch, "bad"));
      },
      asio::detached);
  ioc.run();
  PipeSource src(pipe);
  char buf[16];
  CHECK(*src.read(buf, sizeof buf) == 3);
  auto r = src.read(buf, sizeof buf);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::digest_mismatch);
}

TEST_CASE("when the reader goes away the producer stops instead of blocking") {
  asio::io_context ioc;
  auto pipe = std::make_shared<ChunkPipe>(ioc.get_executor(), 1);
  bool stopped = false;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        while (co_await pipe->push("x")) {
        }
        stopped = true;
      },
      asio::detached);
  std::thread reader([&] {
    PipeSource src(pipe);
    char c;
    (void)src.read(&c, 1);
  });  // PipeSource's destructor closes the reader side
  ioc.run();
  reader.join();
  CHECK(stopped);
}

TEST_CASE("the first failure is the one reported; closing the reader twice is harmless") {
  asio::io_context ioc;
  auto pipe = std::make_shared<ChunkPipe>(ioc.get_executor(), 2);
  pipe->fail(make_error(Errc::digest_mismatch, "first"));
  pipe->fail(make_error(Errc::timeout, "second"));
  auto r = pipe->pop();
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::digest_mismatch);
  pipe->close_reader();
  pipe->close_reader();
  ioc.run();
}
