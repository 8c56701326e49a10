// Error model shared by every module: expected failures are values (Result<T>), exceptions
// mean bugs or failed start-up. The codes are the API contract's error codes; each maps to
// one HTTP status so that an Error can travel unchanged from a module edge to a response.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

namespace bw {

enum class Errc {
  bad_request,
  bad_reference,
  not_found,
  method_not_allowed,
  payload_too_large,
  registry_not_allowed,
  unauthorized,
  forbidden,
  rate_limited,
  registry_unreachable,
  registry_auth_failed,
  registry_error,
  manifest_unknown,
  blob_unknown,
  platform_not_found,
  unsupported_media_type,
  digest_mismatch,
  layer_limit_exceeded,
  invalid_image,         // a registry document of the wrong shape or types (the field is named)
  insufficient_storage,  // the store's disk is full; retried once space returns
  precondition_failed,   // If-Match named another version of the resource
  conflict,              // the resource is not in a state that allows it (a base not measured)
  timeout,
  cancelled,
  unavailable,
  internal,
};

// The wire name, e.g. "bad_reference".
std::string_view errc_name(Errc code);

// The HTTP status an API response carries for this code.
int errc_http_status(Errc code);

struct Error {
  Errc code = Errc::internal;
  std::string message;

  // The JSON body of an API error: {"error":{"code":"…","message":"…"}}.
  std::string to_json() const;
};

inline Error make_error(Errc code, std::string message) {
  return Error{code, std::move(message)};
}

// Thrown only by Result<T>::value() on an error; carries the Error unchanged.
class ErrorException : public std::runtime_error {
 public:
  explicit ErrorException(Error e) : std::runtime_error(e.message), error_(std::move(e)) {}
  const Error& error() const { return error_; }

 private:
  Error error_;
};

// Found by ADL so that Result<T>::value() throws ErrorException.
[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);

template <class T>
using Result = boost::system::result<T, Error>;

}  // namespace bw
