#include "store/store.h"

#include "common/enum_names.h"

namespace bw {

namespace {
constexpr EnumNames<ScanStatus, 5> kScanStatuses{
    {"queued", "running", "done", "failed", "cancelled"}};
}  // namespace

std::string_view scan_status_name(ScanStatus s) {
  return kScanStatuses.name(s);
}

std::optional<ScanStatus> parse_scan_status(std::string_view name) {
  return kScanStatuses.parse(name);
}

bool is_finished(ScanStatus s) {
  return s == ScanStatus::done || s == ScanStatus::failed || s == ScanStatus::cancelled;
}

Result<std::vector<std::optional<LayerMeta>>> Store::get_layer_metas(
    const std::vector<std::string>& digests) {
  std::vector<std::optional<LayerMeta>> out;
  for (auto& d : digests) {
    auto meta = get_layer_meta(d);
    if (!meta) return meta.error();
    out.push_back(std::move(*meta));
  }
  return out;
}

Result<std::vector<SharedLayerRecord>> Store::get_layers(const std::vector<std::string>& digests) {
  std::vector<SharedLayerRecord> out;
  out.reserve(digests.size());
  for (auto& d : digests) {
    auto rec = get_layer(d);
    if (!rec) return rec.error();
    out.push_back(std::move(*rec));
  }
  return out;
}

std::optional<TagRecord> seen_tag(const TagCheck& tag, const std::string& manifest_digest) {
  std::optional<TagRecord> out = tag.tag;
  if (out) out->manifest_digest = manifest_digest;
  return out;
}

bool accepted(const std::optional<LayerMeta>& layer, const LookupAsk& ask) {
  return layer && (!ask.current || ask.current(*layer));
}

std::optional<std::size_t> layer_to_lease(const std::vector<std::optional<LayerMeta>>& layers,
                                          const LookupAsk& ask) {
  if (ask.owner.empty()) return std::nullopt;
  for (std::size_t i = 0; i < layers.size() && i < ask.fetchable.size(); ++i)
    if (ask.fetchable[i] && !accepted(layers[i], ask)) return i;
  return std::nullopt;
}

Result<ImageLookup> Store::lookup_image(const std::string& manifest_digest,
                                        const std::string& ruleset_version,
                                        const std::vector<std::string>& layer_digests,
                                        const LookupAsk& ask) {
  ImageLookup out;
  auto report = get_report(manifest_digest, ruleset_version);
  if (!report) return report.error();
  out.report = std::move(*report);
  auto metas = get_layer_metas(layer_digests);
  if (!metas) return metas.error();
  out.layers = std::move(*metas);
  if (auto i = layer_to_lease(out.layers, ask)) {
    auto lease = lease_layer(layer_digests[*i], ask.owner, ask.ttl);
    if (!lease) return lease.error();
    out.leased_index = i;
    out.lease = std::move(*lease);
  }
  if (ask.sources && !out.report) {
    auto sources = report_sources(manifest_digest, source_digests(out, layer_digests, ask));
    if (!sources) return sources.error();
    place_sources(out, std::move(sources->layers), std::move(sources->context), ask);
  }
  return out;
}

std::vector<std::string> source_digests(const ImageLookup& look,
                                        const std::vector<std::string>& layer_digests,
                                        const LookupAsk& ask) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < layer_digests.size(); ++i)
    if (accepted(look.layers[i], ask)) out.push_back(layer_digests[i]);
  return out;
}

void place_sources(ImageLookup& look, std::vector<SharedLayerRecord> records, ReportContext context,
                   const LookupAsk& ask) {
  look.sources = ReportSources{{}, std::move(context)};
  look.sources->layers.resize(look.layers.size());
  std::size_t next = 0;
  for (std::size_t i = 0; i < look.layers.size() && next < records.size(); ++i)
    if (accepted(look.layers[i], ask)) look.sources->layers[i] = std::move(records[next++]);
}

Result<std::vector<TagState>> Store::check_tags(
    const std::vector<TagCheck>& tags, const std::string& platform,
    const std::string& ruleset_version, const std::function<bool(const LayerMeta&)>& current) {
  return check_tags_with(
      *this, tags, platform, ruleset_version, current,
      [this](const std::string& image, const std::string& digest,
             const std::optional<TagRecord>& tag) { return record_unchanged(image, digest, tag); });
}

Result<LayerLease> Store::lease_layer(const std::string& digest, const std::string& owner,
                                      std::chrono::seconds ttl) {
  LayerLease out;
  auto leased = acquire_lease("layer:" + digest, owner, ttl);
  if (!leased) return leased.error();
  out.leased = *leased;
  if (!out.leased) return out;
  auto meta = get_layer_meta(digest);
  if (!meta) return meta.error();
  out.stored = std::move(*meta);
  return out;
}

Result<ReportContext> Store::report_context(const std::string& manifest_digest) {
  ReportContext out;
  auto suppressions = list_suppressions();
  if (!suppressions) return suppressions.error();
  out.suppressions = std::move(*suppressions);
  auto refs = list_reference_images();
  if (!refs) return refs.error();
  out.reference_images = std::move(*refs);
  auto tags = image_tags(manifest_digest);
  if (!tags) return tags.error();
  out.tags = std::move(*tags);
  return out;
}

Result<ReportSources> Store::report_sources(const std::string& manifest_digest,
                                            const std::vector<std::string>& layer_digests) {
  ReportSources out;
  auto layers = get_layers(layer_digests);
  if (!layers) return layers.error();
  out.layers = std::move(*layers);
  auto context = report_context(manifest_digest);
  if (!context) return context.error();
  out.context = std::move(*context);
  return out;
}

LayerMeta layer_meta_from(int analyzer_version, std::string diff_id, std::string_view status,
                          std::string_view analyzer_versions_json) {
  LayerMeta meta{analyzer_version, std::move(diff_id), LayerStatus::complete, {}};
  auto versions = nlohmann::json::parse(analyzer_versions_json, nullptr, false);
  if (versions.is_object())
    for (auto& [name, v] : versions.items())
      if (v.is_number_integer()) meta.analyzer_versions[name] = v.get<int>();
  for (auto s : {LayerStatus::complete, LayerStatus::limit_exceeded, LayerStatus::invalid,
                 LayerStatus::skipped})
    if (layer_status_name(s) == status) meta.status = s;
  return meta;
}

Result<std::vector<ScanRecord>> Store::submit_scan(const ScanRecord& queued,
                                                   const std::string& owner,
                                                   const ClaimNext& next) {
  if (auto put = put_scan(queued); !put) return put.error();
  if (next.limit == 0) return std::vector<ScanRecord>();
  auto claimed = claim_queued_scans(owner, next.ttl, next.limit, next.started_at);
  if (!claimed) return std::vector<ScanRecord>();
  return claimed;
}

}  // namespace bw
