#include "common/error.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <set>
#include <tuple>
#include <vector>

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

TEST_CASE("every code has its own name, the one the API documents, and a status") {
  // The contract in schema/openapi.yaml: code names as JSON, each with one HTTP status.
  const std::vector<std::tuple<Errc, const char*, int>> table = {
      {Errc::bad_request, "bad_request", 400},
      {Errc::bad_reference, "bad_reference", 400},
      {Errc::not_found, "not_found", 404},
      {Errc::method_not_allowed, "method_not_allowed", 405},
      {Errc::payload_too_large, "payload_too_large", 413},
      {Errc::registry_not_allowed, "registry_not_allowed", 403},
      {Errc::unauthorized, "unauthorized", 401},
      {Errc::forbidden, "forbidden", 403},
      {Errc::rate_limited, "rate_limited", 429},
      {Errc::registry_unreachable, "registry_unreachable", 502},
      {Errc::registry_auth_failed, "registry_auth_failed", 502},
      {Errc::registry_error, "registry_error", 502},
      {Errc::manifest_unknown, "manifest_unknown", 404},
      {Errc::blob_unknown, "blob_unknown", 404},
      {Errc::platform_not_found, "platform_not_found", 404},
      {Errc::unsupported_media_type, "unsupported_media_type", 415},
      {Errc::digest_mismatch, "digest_mismatch", 502},
      {Errc::layer_limit_exceeded, "layer_limit_exceeded", 422},
      {Errc::invalid_image, "invalid_image", 422},
      {Errc::insufficient_storage, "insufficient_storage", 507},
      {Errc::precondition_failed, "precondition_failed", 412},
      {Errc::conflict, "conflict", 409},
      {Errc::timeout, "timeout", 504},
      {Errc::cancelled, "cancelled", 409},
      {Errc::unavailable, "unavailable", 503},
      {Errc::internal, "internal", 500},
  };
  std::set<std::string_view> names;
  for (auto& [code, name, status] : table) {
    CHECK(errc_name(code) == name);
    CHECK(errc_http_status(code) == status);
    names.insert(errc_name(code));
  }
  CHECK(names.size() == table.size());
  CHECK(static_cast<int>(Errc::internal) + 1 == static_cast<int>(table.size()));  // none left out
}
