#include "score/reporter.h"

#include "common/log.h"
#include "reference/reference.h"

namespace bw {

using nlohmann::json;

Reporter::Reporter(Store& store, ReportOptions options)
    : store_(store), options_(std::move(options)) {
  if (!options_.rules) options_.rules = RuleCatalog::builtin();
}

Result<json> Reporter::build(const std::string& digest, const std::string& image_ref,
                             const std::map<std::string, LayerRecord>* known) {
  auto image = store_.get_image(digest);
  if (!image) return image.error();
  if (!*image) return make_error(Errc::not_found, "no image " + digest);
  std::vector<LayerRecord> layers;
  for (auto& l : (*image)->layers) {
    if (known)
      if (auto it = known->find(l.digest); it != known->end()) {
        layers.push_back(it->second);
        continue;
      }
    auto rec = store_.get_layer(l.digest);
    if (!rec) return rec.error();
    if (!*rec)
      return make_error(Errc::internal, "image " + digest + " names missing layer " + l.digest);
    layers.push_back(std::move(**rec));
  }
  std::vector<Suppression> suppressions = options_.suppressions;
  auto stored = store_.list_suppressions();
  if (!stored) return stored.error();
  for (auto& s : *stored) suppressions.push_back({s.rule_id, s.path, s.env_key, s.reason});
  std::vector<ReferenceImage> refs;
  auto names = store_.list_reference_images();
  if (!names) return names.error();
  for (auto& [name, ref_digest] : *names) {
    auto r = store_.get_image(ref_digest);
    if (!r || !*r) continue;
    ReferenceImage ri{name, ref_digest, {}};
    for (auto& l : (*r)->layers) ri.layers.push_back(l.digest);
    refs.push_back(std::move(ri));
  }
  auto ref = parse_reference(image_ref);
  std::string tag = ref && ref->digest.empty() ? ref->tag : "";
  ReportInput in{**image,
                 layers,
                 *options_.rules,
                 suppressions,
                 refs,
                 image_ref,
                 tag,
                 std::chrono::system_clock::now(),
                 options_.max_image_age_days};
  json report;
  try {
    report = build_report(in);
  } catch (const std::exception& e) {
    // Stored data that predates validation (or a rule bug) must not take the daemon down:
    // the image is reported as unscorable and everything else keeps serving.
    return make_error(Errc::invalid_image,
                      "image " + digest + " cannot be scored from its stored facts: " + e.what());
  }
  ReportRecord rec{digest,
                   options_.rules->version(),
                   image_ref,
                   report["score"].get<int>(),
                   report["grade"],
                   report.dump(),
                   "",
                   false};
  if (auto base = report.find("base"); base != report.end() && base->is_object())
    if (auto name = base->find("name"); name != base->end() && name->is_string()) rec.base = *name;
  for (auto& f : report["findings"])
    if (f.value("rule_id", "") == "BW-OS-EOL" && f.value("suppressed", false) == false)
      rec.eol_os = true;
  if (auto put = store_.put_report(rec); !put) return put.error();
  return report;
}

Result<std::optional<json>> Reporter::get(const std::string& digest) {
  auto have = store_.get_report(digest, options_.rules->version());
  if (!have) return have.error();
  if (*have) return std::optional<json>(json::parse((*have)->report));
  auto image = store_.get_image(digest);
  if (!image) return image.error();
  if (!*image) return std::optional<json>();
  auto last = store_.latest_report(digest);
  if (!last) return last.error();
  std::string ref = *last ? (*last)->image_ref : "";
  auto built = build(digest, ref);
  if (!built) return built.error();
  return std::optional<json>(std::move(*built));
}

Result<std::size_t> Reporter::rescore_all() {
  rescoring_ = true;
  struct Done {
    std::atomic<bool>& flag;
    ~Done() { flag = false; }
  } done{rescoring_};
  // Only the images without a report under these rules: a start-up with the rules unchanged
  // reads no report.
  auto digests = store_.list_image_digests(options_.rules->version());
  if (!digests) return digests.error();
  std::size_t n = 0;
  unscorable_ = 0;
  for (auto& d : *digests) {
    Result<std::optional<json>> r = make_error(Errc::internal, "not scored");
    try {
      r = get(d);
    } catch (const std::exception& e) {
      r = make_error(Errc::invalid_image, e.what());
    }
    if (!r) {
      ++unscorable_;
      log::warn("image=" + d + " cannot be re-scored: " + r.error().message);
      continue;
    }
    ++n;
  }
  return n;
}

}  // namespace bw
