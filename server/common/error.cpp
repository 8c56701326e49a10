#include "common/error.h"

#include <nlohmann/json.hpp>

namespace bw {

std::string_view errc_name(Errc code) {
  switch (code) {
    case Errc::bad_request:
      return "bad_request";
    case Errc::bad_reference:
      return "bad_reference";
    case Errc::not_found:
      return "not_found";
    case Errc::method_not_allowed:
      return "method_not_allowed";
    case Errc::payload_too_large:
      return "payload_too_large";
    case Errc::registry_not_allowed:
      return "registry_not_allowed";
    case Errc::unauthorized:
      return "unauthorized";
    case Errc::forbidden:
      return "forbidden";
    case Errc::rate_limited:
      return "rate_limited";
    case Errc::registry_unreachable:
      return "registry_unreachable";
    case Errc::registry_auth_failed:
      return "registry_auth_failed";
    case Errc::registry_error:
      return "registry_error";
    case Errc::manifest_unknown:
      return "manifest_unknown";
    case Errc::blob_unknown:
      return "blob_unknown";
    case Errc::platform_not_found:
      return "platform_not_found";
    case Errc::unsupported_media_type:
      return "unsupported_media_type";
    case Errc::digest_mismatch:
      return "digest_mismatch";
    case Errc::layer_limit_exceeded:
      return "layer_limit_exceeded";
    case Errc::invalid_image:
      return "invalid_image";
    case Errc::insufficient_storage:
      return "insufficient_storage";
    case Errc::precondition_failed:
      return "precondition_failed";
    case Errc::conflict:
      return "conflict";
    case Errc::timeout:
      return "timeout";
    case Errc::cancelled:
      return "cancelled";
    case Errc::unavailable:
      return "unavailable";
    case Errc::internal:
      return "internal";
  }
  return "internal";
}

int errc_http_status(Errc code) {
  switch (code) {
    case Errc::bad_request:
    case Errc::bad_reference:
      return 400;
    case Errc::unauthorized:
      return 401;
    case Errc::registry_not_allowed:
    case Errc::forbidden:
      return 403;
    case Errc::not_found:
    case Errc::manifest_unknown:
    case Errc::blob_unknown:
    case Errc::platform_not_found:
      return 404;
    case Errc::method_not_allowed:
      return 405;
    case Errc::payload_too_large:
      return 413;
    case Errc::unsupported_media_type:
      return 415;
    case Errc::layer_limit_exceeded:
    case Errc::invalid_image:
      return 422;
    case Errc::insufficient_storage:
      return 507;
    case Errc::precondition_failed:
      return 412;
    case Errc::conflict:
      return 409;
    case Errc::rate_limited:
      return 429;
    case Errc::registry_unreachable:
    case Errc::registry_auth_failed:
    case Errc::registry_error:
    case Errc::digest_mismatch:
      return 502;
    case Errc::unavailable:
      return 503;
    case Errc::timeout:
      return 504;
    case Errc::cancelled:
      return 409;
    case Errc::internal:
      return 500;
  }
  return 500;
}

std::string Error::to_json() const {
  nlohmann::json j = {{"error", {{"code", errc_name(code)}, {"message", message}}}};
  // Messages may quote hostile input (registry bodies, paths); replace invalid UTF-8
  // rather than failing to report the error.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void throw_exception_from_error(const Error& e, const boost::source_location&) {
  throw ErrorException(e);
}

}  // namespace bw
