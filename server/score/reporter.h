// Reports on demand and at scan time, kept per (image, ruleset version) in the store. A ruleset
// change (a new --rules file, a new build) or a suppression change re-scores from stored facts,
// never from the registry.
//
// Thread-safety: build(), get() and rescore_all() may run on any thread (the Store serialises;
// a report built twice at once is the same report stored twice). rescore_all() runs once, on a
// worker, after start-up: reads of a report it has not reached yet build that one on demand.
#pragma once

#include "score/report.h"

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

namespace bw {

struct ReportOptions {
  std::shared_ptr<const RuleCatalog> rules;  // null: the built-in catalog
  std::vector<Suppression> suppressions;     // from config; the API adds stored ones
  int max_image_age_days = 90;
  // What is scanned to measure each candidate base (base_references()): a reference image of
  // one of these names is that candidate, measured.
  std::vector<std::pair<std::string, std::string>> base_references;
  // The candidates (base_catalog_with()); null: the built-in catalog.
  nlohmann::json bases = nullptr;
};

// A stored suppression as the rules apply it.
Suppression suppression_of(const SuppressionRecord& s);

class Reporter {
 public:
  Reporter(Store& store, ReportOptions options);

  const RuleCatalog& rules() const { return *options_.rules; }

  // Builds, stores and returns the report of a stored image scanned as `image_ref`. Layers in
  // `known` (by digest) are taken from there instead of being read from the store.
  Result<nlohmann::json> build(const std::string& manifest_digest, const std::string& image_ref,
                               const std::map<std::string, SharedLayerRecord>* known = nullptr);
  // As above, for the image as just stored (not read back).
  Result<nlohmann::json> build(const ImageRecord& image, const std::string& image_ref,
                               const std::map<std::string, SharedLayerRecord>* known);
  // A report and the record that stores it.
  struct Built {
    nlohmann::json report;
    ReportRecord record;
  };
  // As build(), without storing: for an image not stored yet, whose scan writes the image, the
  // report and its own end in one transaction (Store::finish_image_scan).
  // `as_reference`: the reference image the scan records this image as (not stored yet either).
  // `context`: the report's context as the scan read it already (Store::lookup_image); with
  // every layer in `known`, nothing is read from the store.
  Result<Built> compose(const ImageRecord& image, const std::string& image_ref,
                        const std::map<std::string, SharedLayerRecord>* known,
                        const std::string& as_reference = "",
                        const ReportContext* context = nullptr);
  // What a switch of stored image `manifest_digest` (scanned as `image_ref`) to candidate
  // `candidate_id` builds, from the same facts its report is built from.
  Result<SwitchRecipe> recipe(const std::string& manifest_digest, const std::string& image_ref,
                              const std::string& candidate_id);
  // The same, onto stored image `onto_digest` (scanned as `onto_reference`), which no catalog
  // entry describes: what it provides is read from its facts (candidate_entry()).
  Result<SwitchRecipe> recipe_onto(const std::string& manifest_digest, const std::string& image_ref,
                                   const std::string& onto_digest,
                                   const std::string& onto_reference);
  // Every candidate judged for stored image `manifest_digest` (report_candidates()).
  Result<nlohmann::json> judge_candidates(const std::string& manifest_digest,
                                          const std::string& image_ref);
  // The current report, built from stored facts when missing; nullopt for an unknown image.
  Result<std::optional<nlohmann::json>> get(const std::string& manifest_digest);
  // Builds the missing reports of every stored image; returns how many were built. An image
  // that cannot be scored is logged and counted (unscorable()), never fatal.
  Result<std::size_t> rescore_all();
  // Whether a suppression (configured or stored) expired after `since` and by `now`: if so,
  // every report is dropped (as a suppression edit drops them) and rebuilt by rescore_all().
  Result<bool> expire_suppressions(std::chrono::system_clock::time_point since,
                                   std::chrono::system_clock::time_point now);
  // Images the last rescore_all() could not score (their report routes answer invalid_image).
  std::size_t unscorable() const { return unscorable_.load(); }
  // Whether rescore_all() is running.
  bool rescoring() const { return rescoring_.load(); }

 private:
  std::atomic<std::size_t> unscorable_ = 0;
  std::atomic<bool> rescoring_ = false;
  // options_.bases, or the built-in catalog when none was given.
  const nlohmann::json& candidates() const;
  // The measured candidates' layer facts (by the manifest digest measured), read once: every
  // report's advice projects onto them. Only the catalog's current digests are kept.
  std::shared_ptr<const std::vector<LayerFacts>> measured_facts(const ImageRecord& base);
  // A reference image as stored, read once: a manifest digest names the same image forever,
  // and every report reads every reference. Null when it is not stored.
  std::shared_ptr<const ImageRecord> reference_image(const std::string& manifest_digest);
  struct Sources;
  Result<Sources> sources(const ImageRecord& image,
                          const std::map<std::string, SharedLayerRecord>* known,
                          const std::string& as_reference = "",
                          const ReportContext* context = nullptr);
  ReportInput input(const ImageRecord& image, const Sources& s, const std::string& image_ref) const;

  Store& store_;
  ReportOptions options_;
  std::mutex measured_mu_;
  std::map<std::string, std::shared_ptr<const std::vector<LayerFacts>>> measured_;  // guarded
  std::map<std::string, std::shared_ptr<const ImageRecord>> references_;  // guarded by measured_mu_
};

}  // namespace bw
