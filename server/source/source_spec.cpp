#include "source/source.h"

#include <filesystem>

namespace bw {
namespace {

struct Transport {
  std::string_view prefix;
  SourceSpec::Kind kind;
  bool has_tag;
};

constexpr Transport kTransports[] = {{"oci:", SourceSpec::Kind::oci_layout, true},
                                     {"oci-archive:", SourceSpec::Kind::oci_archive, true},
                                     {"docker-archive:", SourceSpec::Kind::docker_archive, false}};

}  // namespace

std::string SourceSpec::canonical() const {
  for (auto& t : kTransports)
    if (t.kind == kind) return std::string(t.prefix) + path + (tag.empty() ? "" : ":" + tag);
  return ref.canonical();
}

Result<SourceSpec> parse_source(std::string_view text, bool allow_local) {
  for (auto& t : kTransports) {
    if (!text.starts_with(t.prefix)) continue;
    if (!allow_local)
      return make_error(Errc::bad_request, "local image sources (" + std::string(t.prefix) +
                                               ") are not accepted by this server");
    SourceSpec spec;
    spec.kind = t.kind;
    std::string rest(text.substr(t.prefix.size()));
    // PATH:TAG, as skopeo writes it; a ':' inside a directory name still works when no file of
    // the longer name exists.
    if (auto colon = rest.rfind(':'); t.has_tag && colon != std::string::npos && colon > 0 &&
                                      rest.find('/', colon) == std::string::npos &&
                                      !std::filesystem::exists(rest)) {
      spec.tag = rest.substr(colon + 1);
      rest.resize(colon);
    }
    if (rest.empty()) return make_error(Errc::bad_reference, "a local source needs a path");
    std::error_code ec;
    auto abs = std::filesystem::absolute(rest, ec);
    spec.path = ec ? rest : abs.lexically_normal().string();
    return spec;
  }
  auto ref = parse_reference(text);
  if (!ref) return ref.error();
  SourceSpec spec;
  spec.ref = *ref;
  return spec;
}

}  // namespace bw
