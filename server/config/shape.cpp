#include "config/config.h"

#include "common/text.h"

#include <nlohmann/json.hpp>

#include <charconv>

namespace bw {
namespace {

using nlohmann::json;

Error bad_config(std::string msg) {
  return make_error(Errc::bad_request, "config: " + std::move(msg));
}

std::string type_name(std::string_view token) {
  if (token == "uint") return "a non-negative integer";
  if (token == "number") return "a number";
  if (token == "bool") return "true or false";
  return "a string";
}

bool has_type(const json& v, std::string_view token) {
  if (token == "string") return v.is_string();
  if (token == "bool") return v.is_boolean();
  if (token == "uint") return v.is_number_unsigned();
  return v.is_number();  // "number"
}

bool is_map_shape(const json& shape) {
  return shape.is_object() && shape.contains("*");
}

std::string join_path(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

// Appends every mistake of `v` against `shape` to `errors`, so that one run names them all.
void check(const json& v, const json& shape, const std::string& path, std::string_view source,
           std::vector<std::string>& errors) {
  auto where = [&] {
    return (path.empty() ? std::string("the document") : path) + " in " + std::string(source);
  };
  if (shape.is_string()) {
    std::string token = shape.get<std::string>();
    if (!has_type(v, token))
      errors.push_back(where() + " must be " + type_name(token) + ", not " +
                       (v.is_number() ? v.dump() : std::string(v.type_name())));
    return;
  }
  if (shape.is_array()) {
    if (!v.is_array()) {
      errors.push_back(where() + " must be a list");
      return;
    }
    for (std::size_t i = 0; i < v.size(); ++i)
      check(v[i], shape[0], path + "[" + std::to_string(i) + "]", source, errors);
    return;
  }
  if (!v.is_object()) {
    errors.push_back(where() + " must be an object");
    return;
  }
  for (auto& [key, value] : v.items()) {
    if (key.starts_with("//")) continue;  // a comment
    const json* sub = nullptr;
    if (is_map_shape(shape))
      sub = &shape["*"];
    else if (auto it = shape.find(key); it != shape.end())
      sub = &*it;
    if (!sub) {
      std::string best;
      std::size_t best_d = 3;
      for (auto& [known, ignored] : shape.items())
        if (auto d = edit_distance(key, known); d < best_d) {
          best_d = d;
          best = known;
        }
      errors.push_back("unknown key " + join_path(path, key) + " in " + std::string(source) +
                       (best.empty() ? "" : " (did you mean " + join_path(path, best) + "?)"));
      continue;
    }
    check(value, *sub, join_path(path, key), source, errors);
  }
}

Result<void> check(const json& v, const json& shape, const std::string& path,
                   std::string_view source) {
  std::vector<std::string> errors;
  check(v, shape, path, source, errors);
  if (errors.empty()) return {};
  std::string all = errors.front();
  for (std::size_t i = 1; i < errors.size(); ++i) all += "; " + errors[i];
  if (errors.size() > 1) all = std::to_string(errors.size()) + " mistakes: " + all;
  return bad_config(std::move(all));
}

std::string env_name(const std::string& path) {
  std::string out = "BULWARK_";
  for (char c : path)
    out += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Calls f(path, shape) for every key an environment variable can set: scalars, lists and maps
// (the last two as JSON or, for lists of strings, comma-separated).
template <class F>
void for_each_settable(const json& shape, const std::string& path, F&& f) {
  if (shape.is_object() && !is_map_shape(shape)) {
    for (auto& [key, sub] : shape.items()) for_each_settable(sub, join_path(path, key), f);
    return;
  }
  f(path, shape);
}

Result<json> parse_env_value(const std::string& name, std::string_view text, const json& shape) {
  if (shape.is_string()) {
    std::string token = shape.get<std::string>();
    if (token == "string") return json(std::string(text));
    if (token == "bool") {
      std::string t = to_lower(text);
      if (t == "true" || t == "1" || t == "yes" || t == "on") return json(true);
      if (t == "false" || t == "0" || t == "no" || t == "off") return json(false);
      return bad_config(name + " must be true or false");
    }
    json v = json::parse(text, nullptr, false);
    if (v.is_discarded() || !has_type(v, token))
      return bad_config(name + " must be " + type_name(token));
    return v;
  }
  if (shape.is_array() && shape[0].is_string() && !text.starts_with('[')) {
    json list = json::array();
    for (auto part : split(text, ','))
      if (auto item = trim(part); !item.empty()) list.push_back(item);
    return list;
  }
  json v = json::parse(text, nullptr, false);
  if (v.is_discarded()) return bad_config(name + " must be JSON");
  return v;
}

}  // namespace

const nlohmann::json& config_shape() {
  // Types: "string", "bool", "uint", "number"; [X] a list of X; {"*": X} a map of X by name.
  static const json shape = json::parse(R"({
    "listen": "string", "data_dir": "string", "store": "string", "log_level": "string", "log_format": "string",
    "workers": "uint", "shutdown_grace_s": "uint",
    "registries": {
      "allowed": ["string"], "redirect_hosts": ["string"], "allow_link_local": "bool",
      "connect_timeout_ms": "uint", "io_timeout_ms": "uint", "request_timeout_ms": "uint",
      "blob_timeout_ms": "uint", "backoff_base_ms": "uint", "backoff_max_ms": "uint",
      "max_retry_after_ms": "uint", "max_attempts": "uint", "max_concurrent_per_registry": "uint",
      "max_manifest_bytes": "uint", "max_config_bytes": "uint", "max_redirects": "uint",
      "mirrors": {"*": ["string"]},
      "hosts": {"*": {"insecure": "bool", "ca_file": "string", "username": "string",
                      "password": "string", "password_env": "string",
                      "token_realms": ["string"]}}
    },
    "limits": {
      "max_uncompressed_bytes": "uint", "max_entries": "uint", "max_path_bytes": "uint",
      "max_file_read_bytes": "uint", "max_package_db_bytes": "uint", "max_elf_read_bytes": "uint",
      "max_archive_read_bytes": "uint",
      "max_notable_entries": "uint", "max_notable_bytes": "uint", "max_layer_cpu_s": "number"
    },
    "scans": {"max_concurrent": "uint", "pipe_chunks": "uint", "keep_per_image": "uint",
              "allow_local_sources": "bool"},
    "rules_file": "string",
    "suppressions": [{"rule_id": "string", "path": "string", "env_key": "string",
                      "reason": "string"}],
    "max_image_age_days": "uint",
    "reference_images": ["string"], "reference_rescan_hours": "uint",
    "bases": {"measure": "bool", "snapshot": "string",
              "mirrors": [{"id": "string", "image": "string"}],
              "extra": [{"id": "string", "image": "string", "libc": "string", "shell": "bool",
                         "bash": "bool", "package_manager": "bool", "packages": "uint",
                         "user": "string", "ca_certificates": "bool", "tzdata": "bool",
                         "size_mb": "uint", "runtime": "string", "programs": ["string"],
                         "entrypoint": ["string"], "risk": "uint"}]},
    "schedules": [{"registry": "string", "repositories": ["string"], "tags": ["string"],
                   "max_tags_per_repository": "uint", "interval_minutes": "uint"}],
    "webhooks": [{"url": "string", "secret_env": "string", "events": ["string"]}],
    "api": {
      "max_body_bytes": "uint", "max_header_bytes": "uint", "idle_timeout_s": "uint",
      "max_wait_s": "uint", "cors_origins": ["string"], "gzip_min_bytes": "uint",
      "tokens": [{"name": "string", "sha256": "string", "token_env": "string",
                  "scopes": ["string"]}],
      "tls": {"cert_file": "string", "key_file": "string", "client_ca_file": "string"}
    }
  })");
  return shape;
}

Result<void> check_config_document(const nlohmann::json& doc, std::string_view source) {
  if (!doc.is_object()) return bad_config(std::string(source) + " is not a JSON object");
  return check(doc, config_shape(), "", source);
}

Result<void> check_environment_names(const std::vector<std::string>& present) {
  std::vector<std::string> known = config_environment_names();
  // Set by the CLI, the scripts and the daemon's own start-up rather than by a config key.
  for (const char* other :
       {"BULWARK_CONFIG", "BULWARK_SERVER", "BULWARK_TOKEN", "BULWARK_TOKEN_REALMS"})
    known.emplace_back(other);
  std::vector<std::string> errors;
  for (auto& name : present) {
    if (!name.starts_with("BULWARK_") || std::find(known.begin(), known.end(), name) != known.end())
      continue;
    // Only a near miss of a setting is refused: other BULWARK_* names (a token_env, a script's)
    // are not this daemon's to judge.
    std::string best;
    std::size_t best_d = 3;
    for (auto& k : known)
      if (auto d = edit_distance(name, k); d < best_d) {
        best_d = d;
        best = k;
      }
    if (!best.empty())
      errors.push_back("unknown environment variable " + name + " (did you mean " + best + "?)");
  }
  if (errors.empty()) return {};
  std::string all = errors.front();
  for (std::size_t i = 1; i < errors.size(); ++i) all += "; " + errors[i];
  return bad_config(std::move(all));
}

std::vector<std::string> config_environment_names() {
  std::vector<std::string> out;
  for_each_settable(config_shape(), "",
                    [&](const std::string& path, const json&) { out.push_back(env_name(path)); });
  return out;
}

Result<void> overlay_environment(const EnvLookup& env, nlohmann::json& doc) {
  std::optional<Error> failed;
  for_each_settable(config_shape(), "", [&](const std::string& path, const json& shape) {
    if (failed) return;
    std::string name = env_name(path);
    const char* text = env(name.c_str());
    if (!text) return;
    auto value = parse_env_value(name, text, shape);
    if (value) {
      if (auto r = check(*value, shape, path, "environment variable " + name); !r)
        value = r.error();
    }
    if (!value) {
      failed = value.error();
      return;
    }
    json* at = &doc;
    for (auto part : split(path, '.')) {
      if (!at->is_object()) *at = json::object();
      at = &(*at)[std::string(part)];
    }
    *at = std::move(*value);
  });
  if (failed) return *failed;
  return {};
}

}  // namespace bw
