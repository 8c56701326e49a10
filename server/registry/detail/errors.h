// Errors from registry answers, shared by the transport and the remote operations. Private to
// registry/.
#pragma once

#include "common/error.h"
#include "net/http_client.h"

#include <string>
#include <string_view>

namespace bw::detail {

// The registry's own error text ({"errors":[{"code","message"}]}), if it sent one.
std::string registry_message(const net::HttpResponse& r);

// The Error for a non-2xx answer about `what` in `repo` (401/403 forbidden or auth failure,
// 404 as `not_found_code`, 429 rate limited, else registry_error), quoting the registry.
Error status_error(const net::HttpResponse& r, const std::string& registry, const std::string& repo,
                   Errc not_found_code, std::string_view what);

}  // namespace bw::detail
