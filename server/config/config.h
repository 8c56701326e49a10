// Daemon configuration: built-in defaults, then an optional JSON file, then BULWARK_*
// environment variables, then command-line flags, each overriding the one before.
#pragma once

#include "common/error.h"
#include "notify/webhooks.h"
#include "registry/registry.h"
#include "rules/rules.h"
#include "scan/scan.h"
#include "scan/scheduler.h"
#include "score/score.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace bw {

// A caller's API token: only its SHA-256 is kept. Scopes: "read" (GET /v1/…), "scan"
// (POST and DELETE /v1/scans), "admin" (PUT /v1/suppressions).
struct ApiToken {
  std::string name;
  std::string sha256;  // lowercase hex of the token
  std::vector<std::string> scopes;
};

struct ApiOptions {
  // With tokens configured, /v1 routes need `Authorization: Bearer <token>` with the route's
  // scope; /healthz, /readyz, /version and /metrics stay open. Empty: no caller auth.
  std::vector<ApiToken> tokens;
  std::size_t max_body_bytes = 1 << 20;        // larger request bodies answer 413
  std::uint32_t max_header_bytes = 16 * 1024;  // larger request headers close the connection
  std::chrono::seconds idle_timeout{30};       // a keep-alive connection idle this long closes
  std::chrono::seconds max_wait{300};          // the longest ?wait= a caller may ask for
  // Origins whose pages may call the API from a browser (CORS), e.g. "https://dash.example";
  // "*" allows any. Empty: no cross-origin access (the built-in UI is same-origin).
  std::vector<std::string> cors_origins;
  // Responses at least this large are gzipped for clients that accept it; 0: never.
  std::size_t gzip_min_bytes = 1024;
  // TLS on the listener: PEM certificate chain and key (re-read on SIGHUP). With a client CA,
  // callers must present a certificate it signed. Empty: plain HTTP.
  struct Tls {
    std::string cert_file;
    std::string key_file;
    std::string client_ca_file;
    bool enabled() const { return !cert_file.empty(); }
  } tls;
};

struct Config {
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./bulwark-data";
  // Empty: SQLite in data_dir (the embedded default). "sqlite:PATH", or postgresql://… for
  // replicas sharing one database.
  std::string store;
  std::string config_file;
  std::size_t workers = 0;  // CPU worker threads; 0 means one per core
  std::string log_level = "info";
  std::string log_format = "text";          // "text" (key=value) or "json" (one object per line)
  std::chrono::seconds shutdown_grace{10};  // in-flight work gets this long on SIGTERM
  RegistryOptions registry;
  ScanOptions scan;
  ApiOptions api;
  std::string rules_file;                 // --rules: a rule catalog replacing the built-in one
  std::vector<Suppression> suppressions;  // findings listed as suppressed, never dropped
  int max_image_age_days = 90;            // BW-IMAGE-AGE
  std::vector<Schedule> schedules;        // whole-registry rescans
  std::vector<Webhook> webhooks;          // notified of every finished scan
  // Reference images are scanned at start-up and again this often (0: only at start-up).
  std::chrono::hours reference_rescan_interval{24};
  // Candidate bases measured by scanning them (bases.measure): each catalog entry's image, or
  // its mirror (bases.mirrors, by entry id) for registries the daemon cannot or may not reach.
  // They are scanned as reference images are, at start-up and every reference_rescan_interval.
  bool measure_bases = false;
  std::map<std::string, std::string> base_mirrors;
  // Measurements made elsewhere (bases.snapshot: a file `bulwark bases --snapshot` wrote), loaded
  // at start-up for the candidates this daemon has not scanned itself (score/base_snapshot.h).
  std::string base_snapshot_file;
  std::vector<std::pair<std::string, std::string>> base_references;  // (id, canonical reference)
  // The candidates: the built-in catalog and a team's golden bases (bases.extra).
  nlohmann::json base_catalog = bw::base_catalog();
  bool allowed_configured = false;  // registries.allowed came from the file

  std::string database_path() const { return data_dir + "/bulwark.db"; }
};

struct ConfigLoad {
  Config config;
  bool show_help = false;
  bool show_version = false;
};

// Parses argv (without argv[0]) over the environment and the file it names.
Result<ConfigLoad> load_config(const std::vector<std::string>& args, const EnvLookup& env);

// Applies a JSON config document (see README "Configuration") onto `config`, after checking
// it against config_shape().
Result<void> apply_config_json(std::string_view text, const EnvLookup& env, Config& config);
Result<void> apply_config(const nlohmann::json& doc, const EnvLookup& env, Config& config);

// Every key a configuration may hold, with its type: "string", "bool", "uint", "number",
// [X] for a list, {"*": X} for a map by name. Keys starting with "//" are comments.
const nlohmann::json& config_shape();

// Unknown keys and wrong types are errors naming the key's path and `source` (the file, or the
// environment variable), with the nearest known key when one is close.
Result<void> check_config_document(const nlohmann::json& doc, std::string_view source);

// Sets keys of `doc` from the environment: BULWARK_ + the key's path in upper snake case
// (BULWARK_REGISTRIES_MAX_ATTEMPTS=3, BULWARK_API_CORS_ORIGINS=a,b); lists of strings are
// comma-separated or JSON, lists of objects and maps JSON.
Result<void> overlay_environment(const EnvLookup& env, nlohmann::json& doc);
std::vector<std::string> config_environment_names();
// Refuses BULWARK_* names in `present` that are a near miss of a setting's variable
// (BULWARK_LISTN: did you mean BULWARK_LISTEN?), every one in one error; others pass.
Result<void> check_environment_names(const std::vector<std::string>& present);

// The effective configuration, in the file's form; passwords, webhook secrets and token hashes
// masked when `mask_secrets`.
nlohmann::json config_to_json(const Config& config, bool mask_secrets);

std::string usage_text();

}  // namespace bw
