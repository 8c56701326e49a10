#include "config/config.h"

#include "common/digest.h"

#include <nlohmann/json.hpp>

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace bw {
namespace {

using nlohmann::json;

Error bad_config(std::string msg) {
  return make_error(Errc::bad_request, "config: " + std::move(msg));
}

template <class T>
void read_number(const json& j, const char* key, T& out) {
  if (auto it = j.find(key); it != j.end()) out = it->get<T>();
}

template <class Duration>
void read_ms(const json& j, const char* key, Duration& out) {
  if (auto it = j.find(key); it != j.end())
    out = std::chrono::duration_cast<Duration>(std::chrono::milliseconds(it->get<std::int64_t>()));
}

bool is_loopback_name(std::string_view host) {
  host = host.substr(0, host.starts_with('[') ? host.find(']') + 1 : host.rfind(':'));
  if (host.starts_with('[')) host = host.substr(1, host.size() - 2);
  if (host == "localhost") return true;
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(std::string(host), ec);
  return !ec && a.is_loopback();
}

// Loopback registries are for a daemon on loopback (a developer's first scan, the demo): a
// daemon serving a real interface must not let its callers reach services on its own host.
// `extra`: patterns from --allow-registry, added to what the file, the environment or the
// defaults allow (they are the operator's, never stripped).
void apply_loopback_policy(Config& c, const std::vector<std::string>& extra) {
  bool listens_on_loopback = is_loopback_name(c.listen);
  auto& allowed = c.registry.allowed;
  if (!listens_on_loopback && !c.allowed_configured)
    std::erase_if(allowed, [](const std::string& p) { return is_loopback_name(p + ":0"); });
  for (auto& p : extra)
    if (std::find(allowed.begin(), allowed.end(), p) == allowed.end()) allowed.push_back(p);
  c.registry.allow_loopback =
      listens_on_loopback || std::any_of(allowed.begin(), allowed.end(), [](const std::string& p) {
        return p == "*" || is_loopback_name(p.find(':') == std::string::npos ||
                                                    (p.starts_with('[') && p.ends_with(']'))
                                                ? p + ":0"
                                                : p);
      });
}

}  // namespace

Result<void> apply_config_json(std::string_view text, const EnvLookup& env, Config& c) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad_config("not a JSON object");
  if (auto r = check_config_document(j, "the configuration"); !r) return r;
  return apply_config(j, env, c);
}

Result<void> apply_config(const json& j, const EnvLookup& env, Config& c) {
  try {
    if (j.contains("listen")) c.listen = j["listen"].get<std::string>();
    if (j.contains("data_dir")) c.data_dir = j["data_dir"].get<std::string>();
    if (j.contains("store")) c.store = j["store"].get<std::string>();
    if (j.contains("log_level")) c.log_level = j["log_level"].get<std::string>();
    if (j.contains("log_format")) c.log_format = j["log_format"].get<std::string>();
    read_number(j, "workers", c.workers);
    if (auto it = j.find("shutdown_grace_s"); it != j.end())
      c.shutdown_grace = std::chrono::seconds(it->get<std::int64_t>());
    if (auto r = j.find("registries"); r != j.end()) {
      auto& reg = c.registry;
      if (r->contains("allowed")) {
        reg.allowed = (*r)["allowed"].get<std::vector<std::string>>();
        c.allowed_configured = true;
      }
      if (r->contains("redirect_hosts"))
        reg.redirect_hosts = (*r)["redirect_hosts"].get<std::vector<std::string>>();
      if (r->contains("allow_link_local"))
        reg.allow_link_local = (*r)["allow_link_local"].get<bool>();
      read_ms(*r, "connect_timeout_ms", reg.connect_timeout);
      read_ms(*r, "io_timeout_ms", reg.io_timeout);
      read_ms(*r, "request_timeout_ms", reg.request_timeout);
      read_ms(*r, "blob_timeout_ms", reg.blob_timeout);
      read_ms(*r, "backoff_base_ms", reg.backoff_base);
      read_ms(*r, "backoff_max_ms", reg.backoff_max);
      read_ms(*r, "max_retry_after_ms", reg.max_retry_after);
      read_number(*r, "max_attempts", reg.max_attempts);
      read_number(*r, "max_concurrent_per_registry", reg.max_concurrent_per_registry);
      if (auto m = r->find("mirrors"); m != r->end())
        for (auto& [name, list] : m->items())
          reg.mirrors[normalize_registry(name)] = list.get<std::vector<std::string>>();
      read_number(*r, "max_manifest_bytes", reg.max_manifest_bytes);
      read_number(*r, "max_config_bytes", reg.max_config_bytes);
      read_number(*r, "max_redirects", reg.max_redirects);
      if (auto hosts = r->find("hosts"); hosts != r->end()) {
        for (auto& [name, h] : hosts->items()) {
          RegistryHostConfig hc;
          hc.insecure = h.value("insecure", false);
          hc.ca_file = h.value("ca_file", "");
          hc.username = h.value("username", "");
          hc.password = h.value("password", "");
          hc.token_realms = h.value("token_realms", std::vector<std::string>{});
          // Secrets are better kept out of config files.
          if (auto pe = h.find("password_env"); pe != h.end()) {
            const char* v = env(pe->get<std::string>().c_str());
            if (!v)
              return bad_config("registry " + name + ": password_env " + pe->get<std::string>() +
                                " is not set");
            hc.password = v;
          }
          reg.hosts[normalize_registry(name)] = std::move(hc);
        }
      }
    }
    if (auto l = j.find("limits"); l != j.end()) {
      auto& lim = c.scan.limits;
      read_number(*l, "max_uncompressed_bytes", lim.max_uncompressed_bytes);
      read_number(*l, "max_entries", lim.max_entries);
      read_number(*l, "max_path_bytes", lim.max_path_bytes);
      read_number(*l, "max_file_read_bytes", c.scan.analysis.max_file_read_bytes);
      read_number(*l, "max_package_db_bytes", c.scan.analysis.max_package_db_bytes);
      read_number(*l, "max_elf_read_bytes", c.scan.analysis.max_elf_read_bytes);
      read_number(*l, "max_archive_read_bytes", c.scan.analysis.max_archive_read_bytes);
      read_number(*l, "max_notable_entries", lim.max_notable_entries);
      read_number(*l, "max_notable_bytes", lim.max_notable_bytes);
      read_number(*l, "max_layer_cpu_s", lim.max_cpu_seconds);
    }
    if (auto s = j.find("scans"); s != j.end()) {
      read_number(*s, "max_concurrent", c.scan.max_concurrent_scans);
      read_number(*s, "pipe_chunks", c.scan.pipe_chunks);
      read_number(*s, "keep_per_image", c.scan.keep_scans_per_image);
      if (s->contains("allow_local_sources"))
        c.scan.allow_local_sources = (*s)["allow_local_sources"].get<bool>();
    }
    if (j.contains("rules_file")) c.rules_file = j["rules_file"].get<std::string>();
    if (j.contains("max_image_age_days")) c.max_image_age_days = j["max_image_age_days"].get<int>();
    if (j.contains("webhooks"))
      for (auto& w : j["webhooks"]) {
        Webhook h{w.at("url").get<std::string>(), "",
                  w.value("events", std::vector<std::string>{})};
        if (auto se = w.find("secret_env"); se != w.end()) {
          const char* v = env(se->get<std::string>().c_str());
          if (!v || !*v)
            return bad_config("webhook " + h.url + ": " + se->get<std::string>() + " is not set");
          h.secret = v;
        }
        if (!h.url.starts_with("http://") && !h.url.starts_with("https://"))
          return bad_config("webhook url must be http(s)");
        c.webhooks.push_back(std::move(h));
      }
    if (j.contains("schedules"))
      for (auto& sc : j["schedules"]) {
        Schedule x;
        x.registry = normalize_registry(sc.at("registry").get<std::string>());
        x.repositories = sc.value("repositories", std::vector<std::string>{});
        x.tags = sc.value("tags", std::vector<std::string>{});
        x.max_tags_per_repository = sc.value("max_tags_per_repository", std::size_t{20});
        x.interval = std::chrono::minutes(sc.value("interval_minutes", 24 * 60));
        if (x.interval.count() < 1)
          return bad_config("schedules: interval_minutes must be at least 1");
        c.schedules.push_back(std::move(x));
      }
    if (j.contains("reference_rescan_hours"))
      c.reference_rescan_interval = std::chrono::hours(j["reference_rescan_hours"].get<int>());
    if (j.contains("reference_images"))
      for (auto& r : j["reference_images"]) {
        auto ref = parse_reference(r.get<std::string>());
        if (!ref) return bad_config("reference_images: " + ref.error().message);
        c.scan.reference_images.push_back(ref->canonical());
      }
    if (auto b = j.find("bases"); b != j.end()) {
      c.measure_bases = b->value("measure", false);
      c.base_snapshot_file = b->value("snapshot", "");
      if (auto m = b->find("mirrors"); m != b->end())
        for (auto& e : *m) c.base_mirrors[e.at("id").get<std::string>()] = e.at("image");
      auto catalog = base_catalog_with(b->value("extra", json()));
      if (!catalog) return bad_config("bases.extra: " + catalog.error().message);
      c.base_catalog = std::move(*catalog);
      auto refs = base_references(c.base_catalog, c.base_mirrors);
      if (!refs) return bad_config("bases: " + refs.error().message);
      // A snapshot's bases are known by the names this daemon would measure them by.
      if (c.measure_bases || !c.base_snapshot_file.empty()) c.base_references = std::move(*refs);
      if (c.measure_bases) {
        for (auto& [id, ref] : c.base_references)
          if (std::find(c.scan.reference_images.begin(), c.scan.reference_images.end(), ref) ==
              c.scan.reference_images.end())
            c.scan.reference_images.push_back(ref);
      }
    }
    if (j.contains("suppressions"))
      for (auto& s : j["suppressions"]) {
        auto sup = suppression_from_json(s);
        if (!sup) return bad_config(sup.error().message);
        c.suppressions.push_back(*sup);
      }
    if (auto a = j.find("api"); a != j.end()) {
      read_number(*a, "max_body_bytes", c.api.max_body_bytes);
      read_number(*a, "max_header_bytes", c.api.max_header_bytes);
      if (auto it = a->find("idle_timeout_s"); it != a->end())
        c.api.idle_timeout = std::chrono::seconds(it->get<std::int64_t>());
      if (auto tokens = a->find("tokens"); tokens != a->end())
        for (auto& t : *tokens) {
          ApiToken tok{t.value("name", ""), t.value("sha256", ""),
                       t.value("scopes", std::vector<std::string>{})};
          // A token may come from the environment instead: only its hash is kept.
          if (auto te = t.find("token_env"); te != t.end()) {
            const char* v = env(te->get<std::string>().c_str());
            if (!v || !*v)
              return bad_config("api token " + tok.name + ": " + te->get<std::string>() +
                                " is not set");
            tok.sha256 = sha256_digest(v).substr(7);
          }
          if (tok.sha256.size() != 64)
            return bad_config("api token " + tok.name +
                              " needs sha256 (64 hex digits) or token_env");
          for (auto& sc : tok.scopes)
            if (sc != "read" && sc != "scan" && sc != "admin" && sc != "harden")
              return bad_config("api token " + tok.name + ": unknown scope " + sc);
          c.api.tokens.push_back(std::move(tok));
        }
      if (auto it = a->find("max_wait_s"); it != a->end())
        c.api.max_wait = std::chrono::seconds(it->get<std::int64_t>());
      if (auto it = a->find("cors_origins"); it != a->end())
        for (auto& o : *it) {
          auto origin = o.get<std::string>();
          if (origin != "*" && !origin.starts_with("http://") && !origin.starts_with("https://"))
            return bad_config("api.cors_origins: " + origin +
                              " is not an origin (scheme://host[:port]) or \"*\"");
          c.api.cors_origins.push_back(std::move(origin));
        }
      read_number(*a, "gzip_min_bytes", c.api.gzip_min_bytes);
      if (auto t = a->find("tls"); t != a->end()) {
        c.api.tls.cert_file = t->value("cert_file", "");
        c.api.tls.key_file = t->value("key_file", "");
        c.api.tls.client_ca_file = t->value("client_ca_file", "");
      }
    }
  } catch (const json::exception& e) {
    return bad_config(std::string("wrong type: ") + e.what());
  }
  if (c.scan.max_concurrent_scans == 0)
    return bad_config("scans.max_concurrent must be at least 1");
  if (c.scan.keep_scans_per_image == 0)
    return bad_config("scans.keep_per_image must be at least 1");
  if (c.api.tls.cert_file.empty() != c.api.tls.key_file.empty())
    return bad_config("api.tls needs both cert_file and key_file");
  if (!c.api.tls.client_ca_file.empty() && c.api.tls.cert_file.empty())
    return bad_config("api.tls.client_ca_file needs cert_file and key_file");
  if (c.log_format != "text" && c.log_format != "json")
    return bad_config("log_format must be text or json");
  return {};
}

Result<ConfigLoad> load_config(const std::vector<std::string>& args, const EnvLookup& env) {
  ConfigLoad out;
  Config& c = out.config;
  c.registry.env = env;  // docker/podman credential files are found through the same environment
  // Flags win over the environment, which wins over the file: find the file first.
  if (const char* f = env("BULWARK_CONFIG")) c.config_file = f;
  for (std::size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == "--config") c.config_file = args[i + 1];
  json doc = json::object();
  if (!c.config_file.empty()) {
    std::ifstream in(c.config_file);
    if (!in) return bad_config("cannot read " + c.config_file);
    std::stringstream ss;
    ss << in.rdbuf();
    try {
      doc = json::parse(ss.str());
    } catch (const json::parse_error& e) {
      return bad_config(c.config_file + " is not valid JSON: " + e.what());
    }
    if (auto r = check_config_document(doc, c.config_file); !r) return r.error();
  }
  if (auto r = overlay_environment(env, doc); !r) return r.error();
  if (auto r = apply_config(doc, env, c); !r) return r.error();
  std::vector<std::string> allow_flags;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> Result<std::string> {
      if (i + 1 >= args.size()) return bad_config(a + " needs a value");
      return args[++i];
    };
    if (a == "--help" || a == "-h") {
      out.show_help = true;
    } else if (a == "--version") {
      out.show_version = true;
    } else if (a == "--listen" || a == "--data-dir" || a == "--config" || a == "--log-level" ||
               a == "--workers" || a == "--rules" || a == "--allow-registry" ||
               a == "--log-format" || a == "--store") {
      auto v = value();
      if (!v) return v.error();
      if (a == "--allow-registry")
        allow_flags.push_back(*v);
      else if (a == "--log-format")
        c.log_format = *v;
      else if (a == "--store")
        c.store = *v;
      else if (a == "--listen")
        c.listen = *v;
      else if (a == "--data-dir")
        c.data_dir = *v;
      else if (a == "--log-level")
        c.log_level = *v;
      else if (a == "--rules")
        c.rules_file = *v;
      else if (a == "--workers") {
        try {
          c.workers = std::stoul(*v);
        } catch (const std::exception&) {
          return bad_config("--workers takes a number");
        }
      }
    } else {
      return bad_config("unknown argument " + a + " (see --help)");
    }
  }
  apply_loopback_policy(c, allow_flags);
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
      c.log_level != "error")
    return bad_config("log level must be debug, info, warn or error");
  if (c.log_format != "text" && c.log_format != "json")
    return bad_config("log format must be text or json");
  return out;
}

std::string usage_text() {
  return "usage: bulwarkd [--listen HOST:PORT] [--data-dir DIR] [--config FILE] [--rules FILE]\n"
         "                [--workers N] [--log-level debug|info|warn|error] [--log-format "
         "text|json]\n"
         "                [--store URL] [--allow-registry PATTERN]... [--version]\n"
         "       bulwarkd config check FILE    check a configuration file and exit\n"
         "       bulwarkd config print [...]   print the effective configuration (secrets masked)\n"
         "\n"
         "  --listen    address to serve the REST API on (default 127.0.0.1:8080; env "
         "BULWARK_LISTEN)\n"
         "  --store     sqlite:PATH or postgresql://user@host/db (default: SQLite in --data-dir;\n"
         "              env BULWARK_STORE; the password from PGPASSWORD or a password file)\n"
         "  --data-dir  where the SQLite store lives (default ./bulwark-data; env "
         "BULWARK_DATA_DIR)\n"
         "  --config    JSON configuration file (env BULWARK_CONFIG); see README\n"
         "  --workers   CPU worker threads for layer analysis (default: one per core)\n"
         "  --rules     a rule catalog (JSON, as schema/rules.json) replacing the built-in one\n"
         "  --allow-registry  also allow this registry pattern (host, host:port, *.suffix, *);\n"
         "              repeatable\n"
         "\n"
         "Precedence: flags, then BULWARK_* environment variables (every key: BULWARK_ + its\n"
         "path in upper snake case, e.g. BULWARK_REGISTRIES_MAX_ATTEMPTS), then the file, then\n"
         "the defaults. Unknown keys and wrong types are errors.\n";
}

}  // namespace bw
