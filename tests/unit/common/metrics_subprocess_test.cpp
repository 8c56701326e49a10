// Metric families at their edges, helper programs that overrun, hang or stop reading, and error
// codes outside the enumeration (a corrupted value reads as internal, never as garbage).
#include "common/error.h"
#include "common/metrics.h"
#include "common/subprocess.h"

#include <doctest/doctest.h>

#include <limits>

using namespace bw;

TEST_CASE("metric families: infinities, missing series, histograms, labelled families") {
  metrics::Family g("bw_test_gauge", "a gauge", metrics::Type::gauge, {"kind"});
  std::string out;
  g.render(out);
  CHECK(out.find("bw_test_gauge{") == std::string::npos);  // labelled: no series until one is set
  g.set({"up"}, std::numeric_limits<double>::infinity());
  g.set({"down"}, -std::numeric_limits<double>::infinity());
  g.set({"half"}, 0.5);
  out.clear();
  g.render(out);
  CHECK(out.find("bw_test_gauge{kind=\"up\"} +Inf\n") != std::string::npos);
  CHECK(out.find("bw_test_gauge{kind=\"down\"} -Inf\n") != std::string::npos);
  CHECK(out.find("bw_test_gauge{kind=\"half\"} 0.5\n") != std::string::npos);
  CHECK(g.value({"none"}) == 0);
  CHECK(g.value({"half"}) == 0.5);

  metrics::Family h("bw_test_seconds", "a histogram", metrics::Type::histogram, {}, {0.1, 1});
  out.clear();
  h.render(out);
  CHECK(out.find("bw_test_seconds_bucket{le=\"+Inf\"} 0\n") != std::string::npos);
  h.observe({}, 0.05);
  h.observe({}, 5);
  CHECK(h.value({}) == 2);  // a histogram's value is its count
  out.clear();
  h.render(out);
  CHECK(out.find("bw_test_seconds_bucket{le=\"1\"} 1\n") != std::string::npos);
  CHECK(out.find("bw_test_seconds_count 2\n") != std::string::npos);
}

TEST_CASE("error codes outside the enumeration are internal errors") {
  auto corrupt = static_cast<Errc>(250);
  CHECK(errc_name(corrupt) == "internal");
  CHECK(errc_http_status(corrupt) == 500);
}

TEST_CASE("helper programs: output capped, hung helpers killed, unread input not fatal") {
  auto big = run_subprocess({"head", "-c", "3000000", "/dev/zero"}, "", std::chrono::seconds(30));
  REQUIRE(big);
  CHECK(big->exit_code == 0);
  CHECK(big->out.size() >= 1024 * 1024);
  CHECK(big->out.size() < 3000000);

  auto hung = run_subprocess({"sleep", "30"}, "", std::chrono::milliseconds(200));
  REQUIRE_FALSE(hung);
  CHECK(hung.error().code == Errc::timeout);
  CHECK(hung.error().message == "sleep did not finish in time");

  // `true` exits without reading 1 MB of input: the write fails with EPIPE, the process lives.
  auto deaf = run_subprocess({"true"}, std::string(1 << 20, 'x'), std::chrono::seconds(30));
  REQUIRE(deaf);
  CHECK(deaf->exit_code == 0);

  auto missing = run_subprocess({"bulwark-no-such-helper"}, "", std::chrono::seconds(30));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::not_found);
}
