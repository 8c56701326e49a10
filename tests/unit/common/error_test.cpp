#include "common/error.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace bw;

TEST_CASE("errors serialise as {error:{code,message}}") {
  auto j = nlohmann::json::parse(make_error(Errc::bad_reference, "invalid \"x\"").to_json());
  CHECK(j["error"]["code"] == "bad_reference");
  CHECK(j["error"]["message"] == "invalid \"x\"");
  CHECK(j.size() == 1);
}

TEST_CASE("invalid UTF-8 in a message is replaced, not fatal") {
  auto j =
      nlohmann::json::parse(make_error(Errc::internal, std::string("bad \xff byte")).to_json());
  CHECK(j["error"]["message"].get<std::string>().starts_with("bad "));
}

TEST_CASE("each code maps to its HTTP status") {
  CHECK(errc_http_status(Errc::bad_request) == 400);
  CHECK(errc_http_status(Errc::bad_reference) == 400);
  CHECK(errc_http_status(Errc::registry_not_allowed) == 403);
  CHECK(errc_http_status(Errc::not_found) == 404);
  CHECK(errc_http_status(Errc::payload_too_large) == 413);
  CHECK(errc_http_status(Errc::rate_limited) == 429);
  CHECK(errc_http_status(Errc::internal) == 500);
  CHECK(errc_http_status(Errc::registry_unreachable) == 502);
  CHECK(errc_http_status(Errc::unavailable) == 503);
  CHECK(errc_name(Errc::digest_mismatch) == "digest_mismatch");
  CHECK(errc_name(Errc::platform_not_found) == "platform_not_found");
}

TEST_CASE("Result::value() throws the Error it holds") {
  Result<int> r = make_error(Errc::timeout, "slow");
  try {
    (void)r.value();
    FAIL("value() did not throw");
  } catch (const ErrorException& e) {
    CHECK(e.error().code == Errc::timeout);
    CHECK(std::string(e.what()) == "slow");
  }
}
