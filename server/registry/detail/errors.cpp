#include "registry/detail/errors.h"

#include <nlohmann/json.hpp>

namespace bw::detail {

using net::HttpResponse;

std::string registry_message(const HttpResponse& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("errors") && j["errors"].is_array() && !j["errors"].empty() &&
      j["errors"][0].is_object()) {
    auto& e = j["errors"][0];
    std::string code =
        e.contains("code") && e["code"].is_string() ? e["code"].get<std::string>() : "";
    std::string msg =
        e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
    return (code + (msg.empty() ? "" : ": " + msg)).substr(0, 300);
  }
  return {};
}

Error status_error(const HttpResponse& r, const std::string& registry, const std::string& repo,
                   Errc not_found_code, std::string_view what) {
  std::string detail = registry_message(r);
  std::string suffix =
      " (HTTP " + std::to_string(r.status) + (detail.empty() ? "" : ", " + detail) + ")";
  std::string where = registry + (repo.empty() ? "" : "/" + repo);
  bool insufficient = r.header("WWW-Authenticate").find("insufficient_scope") != std::string::npos;
  switch (r.status) {
    case 401:
      if (insufficient) return make_error(Errc::forbidden, "not authorized for " + where + suffix);
      return make_error(Errc::registry_auth_failed,
                        "authentication to " + where + " failed" + suffix);
    case 403:
      return make_error(Errc::forbidden, "not authorized for " + where + suffix);
    case 404:
      return make_error(not_found_code, std::string(what) + " not found in " + where + suffix);
    case 429:
      return make_error(Errc::rate_limited, "rate limited by " + registry + suffix);
    default:
      return make_error(Errc::registry_error,
                        std::string(what) + " request to " + registry + " failed" + suffix);
  }
}

}  // namespace bw::detail
