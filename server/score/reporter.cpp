#include "score/reporter.h"

#include "common/log.h"
#include "common/time_util.h"
#include "layer/image_summary.h"
#include "reference/reference.h"

#include <algorithm>

namespace bw {

using nlohmann::json;

namespace {

// What a list row shows of a report: the unsuppressed findings per severity, the first of the
// highest severity, and whether the OS is past end of life.
void summarize_findings(const json& findings, ReportRecord& rec) {
  json counts = {{"critical", 0}, {"high", 0}, {"medium", 0}, {"low", 0}, {"info", 0}};
  const json* top = nullptr;
  Severity top_severity = Severity::info;
  for (auto& f : findings) {
    if (f.value("suppressed", false)) continue;
    if (f.value("rule_id", "") == "BW-OS-EOL") rec.eol_os = true;
    std::string name = f.value("severity", "info");
    Severity severity = parse_severity(name).value_or(Severity::info);
    // A finding that counts others past the per-rule limit (Finding::more) stands for them too.
    counts[std::string(severity_name(severity))] =
        counts[std::string(severity_name(severity))].get<std::int64_t>() + 1 +
        f.value("more", std::int64_t{0});
    if (!top || severity > top_severity) {
      top = &f;
      top_severity = severity;
    }
  }
  rec.severity_counts = counts.dump();
  if (top)
    rec.top_finding = json{{"rule_id", top->value("rule_id", "")},
                           {"title", top->value("title", "")},
                           {"severity", severity_name(top_severity)}}
                          .dump();
}

}  // namespace

Suppression suppression_of(const SuppressionRecord& s) {
  return Suppression{s.rule_id, s.path, s.env_key, s.reason, s.image, s.expires};
}

Reporter::Reporter(Store& store, ReportOptions options)
    : store_(store), options_(std::move(options)) {
  if (!options_.rules) options_.rules = RuleCatalog::builtin();
}

Result<json> Reporter::build(const std::string& digest, const std::string& image_ref,
                             const std::map<std::string, SharedLayerRecord>* known) {
  auto image = store_.get_image(digest);
  if (!image) return image.error();
  if (!*image) return make_error(Errc::not_found, "no image " + digest);
  return build(**image, image_ref, known);
}

// What a report is built from besides the image: everything ReportInput points to.
struct Reporter::Sources {
  std::vector<SharedLayerRecord> layers;
  std::vector<Suppression> suppressions;
  std::vector<ReferenceImage> refs;
  std::vector<MeasuredBase> measured;
  std::vector<std::string> tags;
};

Result<Reporter::Sources> Reporter::sources(const ImageRecord& image,
                                            const std::map<std::string, SharedLayerRecord>* known,
                                            const std::string& as_reference,
                                            const ReportContext* context_read) {
  const std::string& digest = image.manifest_digest;
  Sources out;
  // Layers this scan did not analyse are read in one go.
  std::vector<std::string> missing;
  for (auto& l : image.layers)
    if (!known || !known->count(l.digest)) missing.push_back(l.digest);
  Result<ReportSources> read = ReportSources{};
  if (context_read && missing.empty())
    read->context = *context_read;
  else
    read = store_.report_sources(digest, missing);
  if (!read) return read.error();
  std::size_t next = 0;
  out.layers.reserve(image.layers.size());
  for (auto& l : image.layers) {
    if (known)
      if (auto it = known->find(l.digest); it != known->end()) {
        out.layers.push_back(it->second);
        continue;
      }
    auto& rec = read->layers[next++];
    if (!rec)
      return make_error(Errc::internal, "image " + digest + " names missing layer " + l.digest);
    out.layers.push_back(std::move(rec));
  }
  auto& context = read->context;
  out.suppressions = options_.suppressions;
  for (auto& s : context.suppressions) out.suppressions.push_back(suppression_of(s));
  if (!as_reference.empty()) {
    // The reference this image is about to be recorded as names it already.
    std::erase_if(context.reference_images, [&](auto& r) { return r.first == as_reference; });
    context.reference_images.emplace_back(as_reference, digest);
    std::sort(context.reference_images.begin(), context.reference_images.end());
  }
  for (auto& [name, ref_digest] : context.reference_images) {
    auto r = ref_digest == digest && name == as_reference
                 ? std::make_shared<const ImageRecord>(image)
                 : reference_image(ref_digest);
    if (!r) continue;
    ReferenceImage ri{name, ref_digest, {}};
    for (auto& l : r->layers) ri.layers.push_back(l.digest);
    for (auto& [id, scanned] : options_.base_references) {
      if (scanned != name) continue;
      // A candidate's mirror is that candidate: images on it are named by the catalog's image.
      for (auto& b : candidates())
        if (b.value("id", "") == id) ri.name = b.value("image", name);
      if (auto facts = measured_facts(*r)) {
        json config = json::parse(r->config, nullptr, false);
        out.measured.push_back(MeasuredBase{id, name, ref_digest, ri.layers, std::move(facts),
                                            config.is_object() ? config : json::object()});
      }
    }
    out.refs.push_back(std::move(ri));
  }
  out.tags = std::move(context.tags);
  return out;
}

ReportInput Reporter::input(const ImageRecord& image, const Sources& s,
                            const std::string& image_ref) const {
  auto ref = parse_reference(image_ref);
  std::string tag = ref && ref->digest.empty() ? ref->tag : "";
  return ReportInput{image,
                     s.layers,
                     *options_.rules,
                     s.suppressions,
                     s.refs,
                     image_ref,
                     tag,
                     std::chrono::system_clock::now(),
                     options_.max_image_age_days,
                     s.tags,
                     s.measured,
                     &candidates()};
}

Result<SwitchRecipe> Reporter::recipe(const std::string& digest, const std::string& image_ref,
                                      const std::string& candidate_id) {
  auto image = store_.get_image(digest);
  if (!image) return image.error();
  if (!*image) return make_error(Errc::not_found, "no image " + digest);
  auto s = sources(**image, nullptr);
  if (!s) return s.error();
  return report_switch_recipe(input(**image, *s, image_ref), candidate_id);
}

Result<json> Reporter::judge_candidates(const std::string& digest, const std::string& image_ref) {
  auto image = store_.get_image(digest);
  if (!image) return image.error();
  if (!*image) return make_error(Errc::not_found, "no image " + digest);
  auto s = sources(**image, nullptr);
  if (!s) return s.error();
  return report_candidates(input(**image, *s, image_ref));
}

Result<SwitchRecipe> Reporter::recipe_onto(const std::string& digest, const std::string& image_ref,
                                           const std::string& onto_digest,
                                           const std::string& onto_reference) {
  auto image = store_.get_image(digest);
  if (!image) return image.error();
  if (!*image) return make_error(Errc::not_found, "no image " + digest);
  auto onto = store_.get_image(onto_digest);
  if (!onto) return onto.error();
  if (!*onto) return make_error(Errc::not_found, "no image " + onto_digest);
  auto s = sources(**image, nullptr);
  if (!s) return s.error();
  auto facts = measured_facts(**onto);
  if (!facts)
    return make_error(Errc::conflict, onto_reference + " has layers that were not analysed");
  MeasuredBase measured{onto_reference, onto_reference,
                        onto_digest,    {},
                        facts,          json::parse((**onto).config, nullptr, false)};
  if (!measured.config.is_object()) measured.config = json::object();
  std::vector<const LayerFacts*> layer_facts;
  for (std::size_t i = 0; i < (**onto).layers.size(); ++i) {
    measured.layers.push_back((**onto).layers[i].digest);
    layer_facts.push_back(&(*facts)[i]);
  }
  json bases = candidates();
  bases.push_back(candidate_entry(onto_reference, summarize_image(layer_facts, measured.layers),
                                  measured.config));
  s->measured.push_back(std::move(measured));
  ReportInput in = input(**image, *s, image_ref);
  in.bases = &bases;
  return report_switch_recipe(in, onto_reference);
}

Result<json> Reporter::build(const ImageRecord& image, const std::string& image_ref,
                             const std::map<std::string, SharedLayerRecord>* known) {
  auto built = compose(image, image_ref, known);
  if (!built) return built.error();
  if (auto put = store_.put_report(built->record); !put) return put.error();
  return std::move(built->report);
}

Result<Reporter::Built> Reporter::compose(const ImageRecord& image, const std::string& image_ref,
                                          const std::map<std::string, SharedLayerRecord>* known,
                                          const std::string& as_reference,
                                          const ReportContext* context) {
  const std::string& digest = image.manifest_digest;
  auto s = sources(image, known, as_reference, context);
  if (!s) return s.error();
  ReportInput in = input(image, *s, image_ref);
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
                   false,
                   "",
                   ""};
  if (auto base = report.find("base"); base != report.end() && base->is_object())
    if (auto name = base->find("name"); name != base->end() && name->is_string()) rec.base = *name;
  summarize_findings(report["findings"], rec);
  return Built{std::move(report), std::move(rec)};
}

const json& Reporter::candidates() const {
  return options_.bases.is_array() && !options_.bases.empty() ? options_.bases : base_catalog();
}

std::shared_ptr<const ImageRecord> Reporter::reference_image(const std::string& digest) {
  {
    std::lock_guard lock(measured_mu_);
    if (auto it = references_.find(digest); it != references_.end()) return it->second;
  }
  auto read = store_.get_image(digest);
  if (!read || !*read) return nullptr;
  auto image = std::make_shared<const ImageRecord>(std::move(**read));
  std::lock_guard lock(measured_mu_);
  // References moved to new digests leave their old ones behind: past a bound, start over.
  if (references_.size() > 2 * options_.base_references.size() + 64) references_.clear();
  references_[digest] = image;
  return image;
}

std::shared_ptr<const std::vector<LayerFacts>> Reporter::measured_facts(const ImageRecord& base) {
  {
    std::lock_guard lock(measured_mu_);
    if (auto it = measured_.find(base.manifest_digest); it != measured_.end()) return it->second;
  }
  std::vector<std::string> digests;
  for (auto& l : base.layers) digests.push_back(l.digest);
  auto read = store_.get_layers(digests);
  if (!read) return nullptr;
  auto facts = std::make_shared<std::vector<LayerFacts>>();
  for (auto& rec : *read) {
    if (!rec) return nullptr;
    facts->push_back(std::move(rec->facts));
  }
  std::lock_guard lock(measured_mu_);
  // Refreshed candidates leave their old digests behind: past twice the catalog, start over.
  if (measured_.size() > 2 * options_.base_references.size()) measured_.clear();
  measured_[base.manifest_digest] = facts;
  return facts;
}

Result<std::optional<json>> Reporter::get(const std::string& digest) {
  auto have = store_.get_report(digest, options_.rules->version());
  if (!have) return have.error();
  if (*have) {
    json report = json::parse((*have)->report, nullptr, false);
    // A report that a suppression since expired has shaped is rebuilt when read.
    std::string until = report.is_object() ? report.value("suppressed_until", "") : "";
    if (until.empty() || format_rfc3339(std::chrono::system_clock::now()).substr(0, 10) <= until)
      return std::optional<json>(std::move(report));
    auto built = build(digest, (*have)->image_ref);
    if (!built) return built.error();
    return std::optional<json>(std::move(*built));
  }
  auto image = store_.get_image(digest);
  if (!image) return image.error();
  if (!*image) return std::optional<json>();
  auto last = store_.latest_report(digest);
  if (!last) return last.error();
  std::string ref = *last ? (*last)->image_ref : "";
  if (ref.empty()) {
    auto name = store_.image_name(digest);
    if (!name) return name.error();
    ref = *name;
  }
  auto built = build(digest, ref);
  if (!built) return built.error();
  return std::optional<json>(std::move(*built));
}

Result<bool> Reporter::expire_suppressions(std::chrono::system_clock::time_point since,
                                           std::chrono::system_clock::time_point now) {
  auto stored = store_.list_suppressions();
  if (!stored) return stored.error();
  bool expired = false;
  for (auto& s : options_.suppressions)
    expired |= suppression_expired(s, now) && !suppression_expired(s, since);
  for (auto& s : *stored)
    expired |= suppression_expired(suppression_of(s), now) &&
               !suppression_expired(suppression_of(s), since);
  if (!expired) return false;
  if (auto r = store_.replace_suppressions(*stored); !r) return r.error();
  if (auto r = rescore_all(); !r) return r.error();
  return true;
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
