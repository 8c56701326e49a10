// Store calls from coroutines on an io thread: the call runs on the store's own threads and the
// coroutine resumes on its own executor, so that the io thread never waits on the database
// (a slow query, another process's lock, busy_timeout) and keeps parsing, routing and moving
// bytes meanwhile.
#pragma once

#include "common/on_pool.h"

namespace bw {

// on_pool() with the store's threads: inline without them (the in-process CLI, unit tests).
template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> on_store(boost::asio::thread_pool* pool, F call) {
  return on_pool(pool, std::move(call));
}

}  // namespace bw
