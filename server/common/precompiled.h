// Headers most of the build's files include, parsed once per target (target_precompile_headers)
// rather than once per file: Asio's coroutine headers and nlohmann/json alone take seconds to
// parse, which is most of a light file's compile. Only third-party and standard headers: a
// change to the project's own headers must not rebuild every file of a target.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/result.hpp>
#include <nlohmann/json.hpp>
