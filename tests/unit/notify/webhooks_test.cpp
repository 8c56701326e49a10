// Webhooks without a daemon: what an unusable URL does, a delivery cut short, the signature's
// form, and deliveries as rows: one per event and URL, resumed by a new Webhooks on the same
// store, dead after every attempt failed.
#include "notify/webhooks.h"

#include "fault_server.h"
#include "process.h"

#include <doctest/doctest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>

using namespace bw;

namespace {

const char* no_env(const char*) {
  return nullptr;
}

struct Fixture {
  test::TempDir dir;
  std::unique_ptr<Store> store = open_sqlite_store({dir.path() + "/w.db"}).value();
  boost::asio::io_context io;

  std::unique_ptr<Webhooks> hooks(std::vector<Webhook> list) {
    auto w = std::make_unique<Webhooks>(io.get_executor(), std::move(list), no_env, *store, nullptr,
                                        "replica-a");
    boost::asio::co_spawn(io, w->run(), boost::asio::detached);
    return w;
  }

  // Runs the io_context until `done` or about 10 s.
  template <class F>
  void run_until(F done) {
    for (int i = 0; i < 100 && !done(); ++i) io.run_for(std::chrono::milliseconds(100));
  }

  std::vector<DeliveryRecord> rows(const std::string& state = "") {
    return store->list_deliveries(state, 0, 100).value();
  }
};

ScanRecord scan_with(const std::string& id, ScanStatus status) {
  ScanRecord s;
  s.id = id;
  s.status = status;
  return s;
}

}  // namespace

TEST_CASE("a webhook URL that does not parse is dead at once, never sent, never retried") {
  Fixture f;
  auto hooks = f.hooks({Webhook{"http://[::1", "k", {}}});
  hooks->scan_finished(scan_with("scan_x", ScanStatus::done),
                       nlohmann::json{{"scan", {{"id", "scan_x"}}}});
  f.run_until([&] { return hooks->failed() == 1; });
  CHECK(hooks->failed() == 1);
  CHECK(hooks->delivered() == 0);
  auto dead = f.rows("dead");
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].attempts == 1);
  CHECK(dead[0].last_error == "the URL does not parse");
  hooks->stop();
}

TEST_CASE("events filter which hooks hear of a scan") {
  Fixture f;
  // Both would fail at once (unparsable): the rows say which were tried.
  auto hooks = f.hooks({Webhook{"http://[a", "", {"scan.failed"}}, Webhook{"http://[b", "", {}}});
  hooks->scan_finished(scan_with("scan_y", ScanStatus::done), nlohmann::json::object());
  f.run_until([&] { return hooks->failed() == 1; });
  CHECK(hooks->failed() == 1);  // only the hook that wants every event
  auto all = f.rows();
  REQUIRE(all.size() == 1);
  CHECK(all[0].url == "http://[b");
  CHECK(all[0].event == "scan.done");
  CHECK(webhook_signature("key", "body").starts_with("sha256="));
  CHECK(webhook_signature("key", "body").size() == 7 + 64);
  hooks->stop();
}

TEST_CASE("a delivery cut short is retried, then delivered, once per event") {
  std::atomic<int> seen{0};
  test::FaultServer hook([&](const test::SeenRequest&) {
    // The first answer stops mid-body: a transport error, not an HTTP status.
    if (seen++ == 0) return test::Reply{200, {}, "partial body", 2};
    return test::Reply{204, {}, ""};
  });
  Fixture f;
  auto hooks = f.hooks({Webhook{"http://" + hook.host() + "/h", "k", {}}});
  auto scan = scan_with("scan_z", ScanStatus::done);
  hooks->scan_finished(scan, nlohmann::json::object());
  // The same event again (a replica's second report of it) is not a second delivery.
  hooks->scan_finished(scan, nlohmann::json::object());
  f.run_until([&] { return hooks->delivered() == 1; });
  f.io.run_for(std::chrono::milliseconds(500));
  CHECK(hooks->delivered() == 1);
  CHECK(hooks->failed() == 0);
  CHECK(seen == 2);
  auto done = f.rows("delivered");
  REQUIRE(done.size() == 1);
  CHECK(done[0].attempts == 2);
  CHECK(f.rows("pending").empty());
  auto shown = to_json(done[0]);
  CHECK(shown["url"] == "http://" + hook.host() + "/h");
  CHECK(shown["payload"]["event"] == "scan.done");
  hooks->stop();
}

TEST_CASE("a pending delivery left by one Webhooks is sent by the next on the same store") {
  std::atomic<int> seen{0};
  test::FaultServer hook([&](const test::SeenRequest&) {
    ++seen;
    return test::Reply{204, {}, ""};
  });
  Fixture f;
  // What a killed daemon leaves: a row with two attempts made, its next one due, and no
  // claim in force.
  DeliveryRecord left;
  left.event_key = "scan_k/scan.done";
  left.event = "scan.done";
  left.url = "http://" + hook.host() + "/h?token=s3cret";
  left.body = R"({"event":"scan.done"})";
  left.created_at_ms = 1;
  REQUIRE(f.store->enqueue_delivery(left).value());
  CHECK_FALSE(f.store->enqueue_delivery(left).value());  // one per event and URL
  auto claimed = f.store->claim_deliveries("dead-replica", 2, 1, 10).value();
  REQUIRE(claimed.size() == 1);
  claimed[0].attempts = 2;
  claimed[0].last_error = "HTTP 500";
  claimed[0].updated_at_ms = 2;
  REQUIRE(f.store->finish_delivery(claimed[0], "dead-replica", 0));
  auto hooks = f.hooks({Webhook{left.url, "k", {}}});
  f.run_until([&] { return hooks->delivered() == 1; });
  CHECK(seen == 1);
  auto done = f.rows("delivered");
  REQUIRE(done.size() == 1);
  CHECK(done[0].attempts == 3);
  CHECK(done[0].last_error.empty());
  // The token in the URL's query is never shown.
  CHECK(to_json(done[0])["url"] == "http://" + hook.host() + "/h?…");
  hooks->stop();
}
