// Work from coroutines on an io thread that grows with the data (parsing a large document,
// masking it): the call runs on `pool` and the coroutine resumes on its own executor, so that
// the io thread keeps parsing, routing and moving bytes meanwhile.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <type_traits>
#include <utility>

namespace bw {

// Runs `call()` on `pool` and returns its result to the awaiting coroutine. Without a pool
// (the in-process CLI and unit tests, where nothing else waits) the call runs inline.
// REQUIRES: what `call` refers to outlives the co_await (the caller is suspended meanwhile).
template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> on_pool(boost::asio::thread_pool* pool, F call) {
  using R = std::invoke_result_t<F&>;
  if (!pool) co_return call();
  co_return co_await boost::asio::co_spawn(
      *pool, [call = std::move(call)]() mutable -> boost::asio::awaitable<R> { co_return call(); },
      boost::asio::use_awaitable);
}

}  // namespace bw
