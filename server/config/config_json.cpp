#include "config/config.h"
#include "store/store.h"

#include <nlohmann/json.hpp>

namespace bw {
namespace {

using nlohmann::json;

std::string masked(const std::string& secret, bool mask) {
  if (!mask || secret.empty()) return secret;
  return "***";
}

}  // namespace

nlohmann::json config_to_json(const Config& c, bool mask_secrets) {
  const auto& r = c.registry;
  json hosts = json::object();
  for (auto& [name, h] : r.hosts)
    hosts[name] = {{"insecure", h.insecure},
                   {"ca_file", h.ca_file},
                   {"username", h.username},
                   {"password", masked(h.password, mask_secrets)},
                   {"token_realms", h.token_realms}};
  json mirrors = json::object();
  for (auto& [name, list] : r.mirrors) mirrors[name] = list;
  const auto& lim = c.scan.limits;
  const auto& an = c.scan.analysis;
  json suppressions = json::array();
  for (auto& s : c.suppressions) suppressions.push_back(to_json(s));
  json base_mirrors = json::array();
  for (auto& [id, image] : c.base_mirrors) base_mirrors.push_back({{"id", id}, {"image", image}});
  json golden = json::array();
  for (auto& b : c.base_catalog)
    if (b.value("golden", false)) {
      json e = b;
      e.erase("golden");
      golden.push_back(std::move(e));
    }
  json schedules = json::array();
  for (auto& s : c.schedules)
    schedules.push_back({{"registry", s.registry},
                         {"repositories", s.repositories},
                         {"tags", s.tags},
                         {"max_tags_per_repository", s.max_tags_per_repository},
                         {"interval_minutes", s.interval.count()}});
  json webhooks = json::array();
  for (auto& w : c.webhooks)
    webhooks.push_back(
        {{"url", w.url}, {"secret", masked(w.secret, mask_secrets)}, {"events", w.events}});
  json tokens = json::array();
  for (auto& t : c.api.tokens)
    tokens.push_back({{"name", t.name},
                      {"sha256", mask_secrets ? t.sha256.substr(0, 8) + "…" : t.sha256},
                      {"scopes", t.scopes}});
  return {{"listen", c.listen},
          {"data_dir", c.data_dir},
          {"store", mask_secrets ? store_description(c.store, c.data_dir) : c.store},
          {"log_level", c.log_level},
          {"log_format", c.log_format},
          {"workers", c.workers},
          {"shutdown_grace_s", c.shutdown_grace.count()},
          {"registries",
           {{"allowed", r.allowed},
            {"redirect_hosts", r.redirect_hosts},
            {"allow_link_local", r.allow_link_local},
            {"connect_timeout_ms", r.connect_timeout.count()},
            {"io_timeout_ms", r.io_timeout.count()},
            {"request_timeout_ms", r.request_timeout.count()},
            {"blob_timeout_ms", r.blob_timeout.count()},
            {"backoff_base_ms", r.backoff_base.count()},
            {"backoff_max_ms", r.backoff_max.count()},
            {"max_retry_after_ms", r.max_retry_after.count()},
            {"max_attempts", r.max_attempts},
            {"max_concurrent_per_registry", r.max_concurrent_per_registry},
            {"max_manifest_bytes", r.max_manifest_bytes},
            {"max_config_bytes", r.max_config_bytes},
            {"max_redirects", r.max_redirects},
            {"mirrors", mirrors},
            {"hosts", hosts}}},
          {"limits",
           {{"max_uncompressed_bytes", lim.max_uncompressed_bytes},
            {"max_entries", lim.max_entries},
            {"max_path_bytes", lim.max_path_bytes},
            {"max_file_read_bytes", an.max_file_read_bytes},
            {"max_package_db_bytes", an.max_package_db_bytes},
            {"max_elf_read_bytes", an.max_elf_read_bytes},
            {"max_archive_read_bytes", an.max_archive_read_bytes},
            {"max_notable_entries", lim.max_notable_entries},
            {"max_notable_bytes", lim.max_notable_bytes},
            {"max_layer_cpu_s", lim.max_cpu_seconds}}},
          {"scans",
           {{"max_concurrent", c.scan.max_concurrent_scans},
            {"pipe_chunks", c.scan.pipe_chunks},
            {"keep_per_image", c.scan.keep_scans_per_image},
            {"allow_local_sources", c.scan.allow_local_sources}}},
          {"rules_file", c.rules_file},
          {"suppressions", suppressions},
          {"max_image_age_days", c.max_image_age_days},
          {"reference_images", c.scan.reference_images},
          {"reference_rescan_hours", c.reference_rescan_interval.count()},
          {"bases",
           {{"measure", c.measure_bases},
            {"snapshot", c.base_snapshot_file},
            {"mirrors", base_mirrors},
            {"extra", golden}}},
          {"schedules", schedules},
          {"webhooks", webhooks},
          {"api",
           {{"max_body_bytes", c.api.max_body_bytes},
            {"max_header_bytes", c.api.max_header_bytes},
            {"idle_timeout_s", c.api.idle_timeout.count()},
            {"max_wait_s", c.api.max_wait.count()},
            {"cors_origins", c.api.cors_origins},
            {"gzip_min_bytes", c.api.gzip_min_bytes},
            {"tokens", tokens},
            {"tls",
             {{"cert_file", c.api.tls.cert_file},
              {"key_file", c.api.tls.key_file},
              {"client_ca_file", c.api.tls.client_ca_file}}}}}};
}

}  // namespace bw
