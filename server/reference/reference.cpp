#include "reference/reference.h"

#include "common/text.h"

#include "common/digest.h"

#include <boost/asio/ip/address.hpp>

#include <algorithm>

namespace bw {
namespace {

constexpr std::size_t kMaxNameLength = 255;
constexpr std::size_t kMaxTagLength = 128;

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// path-component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)*
bool valid_path_component(std::string_view c) {
  if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
  for (std::size_t i = 0; i < c.size();) {
    if (is_lower_alnum(c[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < c.size() && !is_lower_alnum(c[j])) ++j;
    std::string_view sep = c.substr(i, j - i);
    bool ok = sep == "." || sep == "_" || sep == "__" ||
              std::all_of(sep.begin(), sep.end(), [](char ch) { return ch == '-'; });
    if (!ok) return false;
    i = j;
  }
  return true;
}

// tag: [\w][\w.-]{0,127}
bool valid_tag(std::string_view t) {
  auto word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  if (t.empty() || t.size() > kMaxTagLength || !word(t.front())) return false;
  return std::all_of(t.begin(), t.end(), [&](char c) { return word(c) || c == '.' || c == '-'; });
}

// domain: host[:port], host being dot-separated labels of [a-zA-Z0-9-] or a bracketed IPv6.
bool valid_domain(std::string_view d) {
  std::string_view host = d;
  std::string_view port;
  if (d.starts_with('[')) {
    auto close = d.find(']');
    if (close == std::string_view::npos) return false;
    boost::system::error_code ec;
    boost::asio::ip::make_address_v6(std::string(d.substr(1, close - 1)), ec);
    if (ec) return false;
    std::string_view rest = d.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
      if (port.empty()) return false;
    }
    host = {};
  } else if (auto colon = d.rfind(':'); colon != std::string_view::npos) {
    host = d.substr(0, colon);
    port = d.substr(colon + 1);
    if (port.empty()) return false;
  }
  if (!port.empty() &&
      (port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) ||
       std::stoul(std::string(port)) > 65535 || std::stoul(std::string(port)) == 0))
    return false;
  if (d.starts_with('[')) return true;
  if (host.empty()) return false;
  std::size_t start = 0;
  while (start <= host.size()) {
    auto dot = host.find('.', start);
    std::string_view label = host.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty() || label.front() == '-' || label.back() == '-') return false;
    for (char c : label)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

Error bad(std::string_view text, std::string_view why) {
  return make_error(
      Errc::bad_reference,
      "invalid image reference \"" + std::string(text.substr(0, 300)) + "\": " + std::string(why));
}

}  // namespace

std::string normalize_registry(std::string_view name) {
  std::string_view n = name;
  if (auto p = n.find("://"); p != std::string_view::npos) n = n.substr(p + 3);
  if (auto slash = n.find('/'); slash != std::string_view::npos) n = n.substr(0, slash);
  std::string out(n);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (out == "index.docker.io" || out == kDockerHubHost) return std::string(kDockerHub);
  return out;
}

std::string registry_hostname(std::string_view registry) {
  if (registry.starts_with('[')) {
    auto close = registry.find(']');
    return std::string(registry.substr(1, close == std::string_view::npos ? close : close - 1));
  }
  return std::string(registry.substr(0, registry.rfind(':')));
}

bool is_loopback_registry(std::string_view registry) {
  std::string host = registry_hostname(registry);
  if (host == "localhost") return true;
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(host, ec);
  return !ec && addr.is_loopback();
}

std::string ImageRef::canonical() const {
  std::string out = registry + "/" + repository;
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

std::string ImageRef::api_host() const {
  return registry == kDockerHub ? std::string(kDockerHubHost) : registry;
}

Result<ImageRef> parse_reference(std::string_view text) {
  if (text.empty()) return bad(text, "empty");
  if (text.size() > 1024) return bad(text, "too long");
  for (char c : text)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
      return bad(text, "contains whitespace or a non-ASCII character");

  ImageRef ref;
  std::string_view rest = text;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    ref.digest = std::string(rest.substr(at + 1));
    rest = rest.substr(0, at);
    if (!is_valid_digest(ref.digest))
      return bad(text, "digest must be sha256:<64 hex> or sha512:<128 hex>");
  }
  // A tag follows the last ':' only if no '/' comes after it (else the ':' is a port).
  auto colon = rest.rfind(':');
  auto slash = rest.rfind('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    ref.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (!valid_tag(ref.tag)) return bad(text, "invalid tag \"" + ref.tag + "\"");
  }
  if (rest.empty()) return bad(text, "missing repository name");

  // The first component is a registry if it looks like a host: it has a '.' or ':', is
  // "localhost", or has an upper-case letter (repository names never do).
  std::string_view name = rest;
  auto first = rest.find('/');
  if (first != std::string_view::npos) {
    std::string_view head = rest.substr(0, first);
    bool has_upper = std::any_of(head.begin(), head.end(), ::isupper);
    if (head.find_first_of(".:") != std::string_view::npos || head == "localhost" || has_upper) {
      if (!valid_domain(head)) return bad(text, "invalid registry \"" + std::string(head) + "\"");
      // Host names are case-insensitive: "MyReg/app" would read back as Docker Hub's
      // "myreg/app" once normalised. A one-label host needs a port to be a registry.
      if (head.find_first_of(".:[") == std::string_view::npos && to_lower(head) != "localhost")
        return bad(text, "registry \"" + std::string(head) +
                             "\" needs a domain or a port (repository names are lowercase)");
      ref.registry = normalize_registry(head);
      name = rest.substr(first + 1);
    }
  }
  if (ref.registry.empty()) ref.registry = std::string(kDockerHub);

  if (name.empty()) return bad(text, "missing repository name");
  if (name.size() > kMaxNameLength) return bad(text, "repository name longer than 255 characters");
  if (std::any_of(name.begin(), name.end(), ::isupper))
    return bad(text, "repository name must be lowercase");
  std::size_t start = 0;
  while (true) {
    auto next = name.find('/', start);
    std::string_view comp =
        name.substr(start, next == std::string_view::npos ? next : next - start);
    if (!valid_path_component(comp))
      return bad(text, "invalid repository path component \"" + std::string(comp) + "\"");
    if (next == std::string_view::npos) break;
    start = next + 1;
  }
  ref.repository = std::string(name);
  if (ref.registry == kDockerHub && ref.repository.find('/') == std::string::npos)
    ref.repository = "library/" + ref.repository;
  // Checked on the normalised name, so that a canonical reference always parses again.
  if (ref.repository.size() > kMaxNameLength)
    return bad(text, "repository name longer than 255 characters");
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

}  // namespace bw
