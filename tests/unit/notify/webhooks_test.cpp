// Webhooks without a daemon: what an unusable URL does, a delivery cut short, and the
// signature's form.
#include "notify/webhooks.h"

#include "fault_server.h"

#include <doctest/doctest.h>
#include <boost/asio/io_context.hpp>

#include <atomic>

using namespace bw;

TEST_CASE("a webhook URL that does not parse is counted as failed, never sent, never retried") {
  boost::asio::io_context io;
  Webhooks hooks(io.get_executor(), {Webhook{"http://[::1", "k", {}}},
                 [](const char*) -> const char* { return nullptr; });
  ScanRecord scan;
  scan.id = "scan_x";
  scan.status = ScanStatus::done;
  hooks.scan_finished(scan, nlohmann::json{{"scan", {{"id", "scan_x"}}}});
  io.run_for(std::chrono::seconds(5));
  CHECK(hooks.failed() == 1);
  CHECK(hooks.delivered() == 0);
}

TEST_CASE("events filter which hooks hear of a scan") {
  boost::asio::io_context io;
  // Both would fail at once (unparsable): the count says which were tried.
  Webhooks hooks(io.get_executor(),
                 {Webhook{"http://[a", "", {"scan.failed"}}, Webhook{"http://[b", "", {}}},
                 [](const char*) -> const char* { return nullptr; });
  ScanRecord done;
  done.status = ScanStatus::done;
  hooks.scan_finished(done, nlohmann::json::object());
  io.run_for(std::chrono::seconds(5));
  CHECK(hooks.failed() == 1);  // only the hook that wants every event
  CHECK(webhook_signature("key", "body").starts_with("sha256="));
  CHECK(webhook_signature("key", "body").size() == 7 + 64);
}

TEST_CASE("a delivery cut short is retried, then delivered") {
  std::atomic<int> seen{0};
  test::FaultServer hook([&](const test::SeenRequest&) {
    // The first answer stops mid-body: a transport error, not an HTTP status.
    if (seen++ == 0) return test::Reply{200, {}, "partial body", 2};
    return test::Reply{204, {}, ""};
  });
  boost::asio::io_context io;
  Webhooks hooks(io.get_executor(), {Webhook{"http://" + hook.host() + "/h", "k", {}}},
                 [](const char*) -> const char* { return nullptr; });
  ScanRecord scan;
  scan.status = ScanStatus::done;
  hooks.scan_finished(scan, nlohmann::json::object());
  for (int i = 0; i < 100 && hooks.delivered() == 0; ++i)
    io.run_for(std::chrono::milliseconds(100));
  CHECK(hooks.delivered() == 1);
  CHECK(hooks.failed() == 0);
  CHECK(seen == 2);
}
