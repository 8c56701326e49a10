// npm's own files: installed packages' package.json and what the app's package.json and
// lockfiles say about dev dependencies.
#include "analyze/app_packages.h"
#include "common/text.h"

namespace bw {

using nlohmann::json;

namespace {

json parse_object(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  return j.is_object() ? j : json();
}

std::string string_at(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// "license": "MIT", {"type": "MIT"}, or the older "licenses": [{"type": …}, …].
std::string npm_license(const json& j) {
  if (auto l = j.find("license"); l != j.end()) {
    if (l->is_string()) return l->get<std::string>();
    if (l->is_object()) return string_at(*l, "type");
  }
  std::string out;
  if (auto l = j.find("licenses"); l != j.end() && l->is_array())
    for (auto& x : *l) {
      std::string one = x.is_string() ? x.get<std::string>() : string_at(x, "type");
      if (one.empty()) continue;
      out += (out.empty() ? "" : " OR ") + one;
    }
  return out;
}

}  // namespace

bool is_npm_installed_manifest(std::string_view path) {
  static constexpr std::string_view kFile = "/package.json";
  if (!path.ends_with(kFile)) return false;
  std::vector<std::string> dirs = split(path.substr(0, path.size() - kFile.size()), '/');
  // …/node_modules/name or …/node_modules/@scope/name
  std::size_t at = dirs.size();
  if (at < 2 || dirs[at - 1].empty() || dirs[at - 1][0] == '.') return false;
  if (dirs[at - 2].starts_with('@')) --at;
  return at >= 2 && dirs[at - 2] == "node_modules";
}

std::optional<AppPackage> parse_npm_package(std::string_view package_json) {
  json j = parse_object(package_json);
  if (j.is_null()) return std::nullopt;
  AppPackage p;
  p.ecosystem = "npm";
  p.name = string_at(j, "name");
  p.version = string_at(j, "version");
  if (p.name.empty() || p.version.empty()) return std::nullopt;
  p.license = npm_license(j);
  return p;
}

std::vector<std::string> npm_dev_dependencies(std::string_view package_json) {
  std::vector<std::string> out;
  json j = parse_object(package_json);
  if (j.is_null()) return out;
  if (auto d = j.find("devDependencies"); d != j.end() && d->is_object())
    for (auto& [name, _] : d->items()) out.push_back(name);
  return out;
}

namespace {

// A lockfile's dev flags, read as the parser streams past them: no document is built. A lockfile
// of tens of MiB (one per app, read up to limits.max_package_db_bytes) would take several times
// its size as a DOM; here memory is its nesting depth plus the paths found.
class LockDevPaths : public nlohmann::json_sax<json> {
 public:
  // lockfileVersion 2 and 3: "packages" keyed by install path, when it is an object; else
  // version 1's "dependencies", nested as installed. Nothing when the text is not an object.
  std::vector<std::string> result() && {
    if (!object_root_) return {};
    return packages_ ? std::move(packages_dev_) : std::move(nested_dev_);
  }

  bool start_object(std::size_t) override {
    if (stack_.empty()) object_root_ = true;
    if (stack_.size() == 1 && stack_[0].key == "packages") packages_ = true;
    stack_.push_back({true, {}});
    return true;
  }
  bool end_object() override { return pop(); }
  bool start_array(std::size_t) override {
    stack_.push_back({false, {}});
    return true;
  }
  bool end_array() override { return pop(); }
  bool key(string_t& k) override {
    stack_.back().key = k;
    return true;
  }
  bool boolean(bool v) override {
    if (v && !stack_.empty() && stack_.back().object && stack_.back().key == "dev") dev_here();
    return true;
  }
  bool null() override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    object_root_ = false;
    return false;
  }

 private:
  struct Frame {
    bool object;
    std::string key;  // the key whose value is being read (objects only)
  };
  bool pop() {
    stack_.pop_back();
    return true;
  }
  // `"dev": true` at the top of the stack: packages.PATH.dev, or
  // dependencies.N1(.dependencies.N2)*.dev (to 64 levels of nesting).
  void dev_here() {
    const std::size_t n = stack_.size();
    for (std::size_t i = 0; i + 1 < n; ++i)
      if (!stack_[i].object) return;
    if (n == 3 && stack_[0].key == "packages" && !stack_[1].key.empty())
      packages_dev_.push_back(stack_[1].key);
    if (n % 2 == 0 || n < 3 || n > 2 * 64 + 1) return;
    std::string path;
    for (std::size_t i = 0; i + 1 < n; i += 2) {
      if (stack_[i].key != "dependencies") return;
      path += (path.empty() ? "" : "/") + std::string("node_modules/") + stack_[i + 1].key;
    }
    nested_dev_.push_back(std::move(path));
  }

  std::vector<Frame> stack_;
  bool object_root_ = false;
  bool packages_ = false;
  std::vector<std::string> packages_dev_, nested_dev_;
};

}  // namespace

std::vector<std::string> npm_lock_dev_paths(std::string_view lockfile) {
  LockDevPaths paths;
  if (!json::sax_parse(lockfile.begin(), lockfile.end(), &paths)) return {};
  return std::move(paths).result();
}

}  // namespace bw
