// Scores, grades, base-image detection and recommendations, from rule findings and merged facts.
#pragma once

#include "layer/layer.h"
#include "rules/rules.h"

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bw {

enum class Grade : std::uint8_t { A, B, C, D, F };
std::string_view grade_name(Grade g);
std::optional<Grade> parse_grade(std::string_view name);
inline void to_json(nlohmann::json& j, Grade g) {
  j = grade_name(g);
}

struct ScoreResult {
  int score = 100;
  Grade grade = Grade::A;
  nlohmann::json breakdown;  // [{category, deduction, findings: [rule ids]}]
};

// The score model. D is the sum of the firing rules' weights (each rule once, at the largest
// weight among its findings; suppressed findings excluded). Up to D = 60 the score is 100 - D;
// past it the deductions diminish: 40 * exp(-(D - 60) / 50), rounded. A further finding of
// weight 5 or more always lowers the score while D <= 110, and the score reaches 0 only past
// D = 280 (the README has the table), so a base switch still shows a gain on a bad image. With
// `only`, only findings of that origin count: the base part and the app part of the score.
ScoreResult score_findings(const RuleCatalog& catalog, const std::vector<Finding>& findings,
                           std::optional<Origin> only = std::nullopt);
// The score for a total deduction `d` (the model above).
int score_for_deduction(int d);
// A ≥ 90, B ≥ 80, C ≥ 65, D ≥ 40, F below.
Grade grade_for(int score);

struct BaseInfo {
  std::string name;             // "debian:12", "distroless/static", a reference image, or ""
  std::string method = "none";  // annotation | layer-match | os-release | history | contents | none
  std::string confidence = "none";  // high | medium | low | none
  std::size_t layers = 0;           // how many bottom layers are the base
};

struct ReferenceImage {
  std::string name;
  std::string manifest_digest;
  std::vector<std::string> layers;
};

BaseInfo detect_base(const nlohmann::json& manifest, const nlohmann::json& config,
                     const ImageSummary& summary, const std::vector<std::string>& layers,
                     const std::vector<ReferenceImage>& references);

// What the app needs from its base, inferred from the image: the entrypoint and what it runs
// (an executable's libc, a script's interpreter, a runtime), CA certificates, tzdata, and the
// paths that are the app's own (what a new final stage copies).
struct AppNeeds {
  // Entrypoint + Cmd, as the runtime runs them; a shell form that is one plain command
  // (`CMD node index.js`: no quoting, variables, pipes or globs) as the words the shell would run.
  std::vector<std::string> entry;
  bool from_cmd = false;         // the image sets Cmd only: a base's ENTRYPOINT would prefix it
  std::string workdir;           // WORKDIR, without "/"; relative arguments are read from it
  std::string program;           // the entry program's path in the image, without "/"
  bool program_in_base = false;  // it comes from the base layers (or an OS package)
  bool shell = false, bash = false;
  bool static_binary = false, glibc = false, musl = false;
  std::string runtime;  // "java" | "python" | "node" | ""
  bool ca_certificates = false, tzdata = false;
  // Programs the entrypoint runs that only the current base or an OS package provides (sshd):
  // no candidate base has them.
  std::vector<std::string> base_programs;
  std::vector<std::string> copy_paths;  // "/app/", "/usr/local/bin/tool": the app's own files
  // Where the app's layers installed Python packages for Debian's interpreter (apt's python3-*
  // in /usr/lib/python3/dist-packages/, pip's in /usr/local/lib/python3.N/dist-packages/):
  // carried, so also in copy_paths; only a Debian Python reads them.
  std::vector<std::string> python_dirs;
  std::vector<std::string> why;  // how each need was found, for people
  // Whether anything tells what the app runs.
  bool known() const { return shell || static_binary || glibc || musl || !runtime.empty(); }
};

// `base_layers`: the digests of the base's layers.
AppNeeds infer_needs(const ImageSummary& summary, const nlohmann::json& config,
                     const std::vector<std::string>& base_layers);
nlohmann::json to_json(const AppNeeds& needs);

// The candidate bases of schema/bases.json: id, image, and what each provides (libc, shell,
// runtime, entrypoint…). What each one holds is measured, never typed: see MeasuredBase.
const nlohmann::json& base_catalog();
// The built-in catalog followed by a team's own golden bases (`extra`, entries of the same
// form: id, image and what it provides; `risk` 0 unless given). An error names an entry
// without an id or image, an id used twice, or an image that does not parse.
Result<nlohmann::json> base_catalog_with(const nlohmann::json& extra);
// What is scanned to measure each entry of `catalog`: (id, canonical reference), the entry's
// image or its mirror from `mirrors` (id -> reference), for every entry but scratch (nothing to
// measure: it holds nothing). An error names a mirror of no entry or a reference that does not
// parse.
Result<std::vector<std::pair<std::string, std::string>>> base_references(
    const nlohmann::json& catalog, const std::map<std::string, std::string>& mirrors);

// The catalog entry of a base no entry describes (one named by reference): id and image
// `image`, and what it provides (libc, shell, bash, package manager, CA certificates, time zone
// data, runtime, programs, entrypoint) as measured in `summary` and its `config`.
nlohmann::json candidate_entry(const std::string& image, const ImageSummary& summary,
                               const nlohmann::json& config);

// A candidate base as measured: the image its catalog entry (or the entry's mirror) names,
// scanned through the ordinary pipeline and stored like any image.
struct MeasuredBase {
  std::string id;         // the catalog entry
  std::string reference;  // what was scanned
  std::string manifest_digest;
  std::vector<std::string> layers;                       // digests, bottom first
  std::shared_ptr<const std::vector<LayerFacts>> facts;  // the same layers' facts
  nlohmann::json config = nlohmann::json::object();      // its image config
};

struct AdviceInput {
  const RuleCatalog& catalog;
  const std::vector<Finding>& findings;  // suppressions applied
  const std::vector<Suppression>& suppressions;
  const ImageSummary& summary;
  const nlohmann::json& config;  // the image config
  const BaseInfo& base;
  const std::vector<std::string>& layers;  // bottom first
  std::string image_ref;                   // the image scanned: the source stage of snippets
  std::string tag;
  std::chrono::system_clock::time_point now;
  int max_image_age_days = 90;
  std::uint64_t base_bytes = 0;
  std::vector<std::string> image_names = {};  // image_ref and the other tags it was seen as
  // The facts of `layers`, in their order: the app's own are carried onto each candidate.
  std::vector<const LayerFacts*> layer_facts = {};
  // Candidates measured so far. A measured candidate is projected by construction: its layers
  // and the app's, merged, then the rules; one not measured (yet) from its catalog entry.
  const std::vector<MeasuredBase>* measured = nullptr;
  // The candidates (base_catalog_with()); null: the built-in catalog.
  const nlohmann::json* bases = nullptr;
  // Every fit candidate becomes a switch, whatever it gains, and none is dropped for rank or
  // because the image is on a minimal base already (judge_candidates()).
  bool every_candidate = false;
};

// The advice for one image, best first: `keep` (the base is right for what the app needs, and
// why), `switch` (a candidate base from schema/bases.json that provides what the app needs; its
// score projected by running the rules over the app's own facts on the candidate's), and `fix`
// (what no base change does: one per rule the app's layers or config trip, from the rule's
// remediation). Each carries its projected score and the gain over the current one.
// With `plan`, also the steps in order (the best switch, then every fix of the app's own
// findings, heaviest first) with the score after each, cumulative: {steps: [{action, id|rule_id,
// score_after, grade_after}], score, grade, why_not_b (when the end is worse than B)}.
nlohmann::json advise(const AdviceInput& in, const AppNeeds& needs, nlohmann::json* plan = nullptr);

// Every candidate judged for the image, where advise() lists the best few that gain: each fit
// one projected as advise() projects a switch to it, and each unfit one with the reason.
// {switches: [switch action, best first], ruled_out: [{id, base, reason}]}.
nlohmann::json judge_candidates(AdviceInput in, const AppNeeds& needs);

// What the ENTRYPOINT and CMD instructions of a switch set, to run the app on a candidate whose
// own ENTRYPOINT is `base_entry` and whose runtime is `runtime` as the image ran it: a runtime
// base's ENTRYPOINT (distroless python3's "/usr/bin/python3.11") prefixes a command set by CMD
// alone, so a command that starts with that runtime keeps only its arguments; any other command
// replaces the base's ENTRYPOINT. A runtime named by its bare name is run by the candidate's own
// path for it (distroless nodejs has no node on PATH).
struct RunInstructions {
  std::optional<std::vector<std::string>> entrypoint;  // set: replaces the base's, resets CMD
  std::optional<std::vector<std::string>> cmd;         // set: replaces the base's
};
RunInstructions run_instructions(const nlohmann::json& config, const AppNeeds& needs,
                                 const std::vector<std::string>& base_entry,
                                 const std::string& runtime);
// The same as Dockerfile lines.
std::string dockerfile_lines(const RunInstructions& run);

// The image config of a switch as built: the candidate's config (`candidate`, {} for scratch),
// with the app's settings carried over as the switch's Dockerfile carries them (Env without PATH
// or secrets, WORKDIR, EXPOSE, `run`) and `user` as USER (nullopt: the source's own, as a switch
// is scored: what a USER line gains is a fix of its own); the candidate's diff_ids and history,
// then one layer (kClosureLayer) holding the app's `closure` (copy paths; none: no layer), and
// one entry of ours (`note`).
nlohmann::json composed_config(const nlohmann::json& source, const nlohmann::json& candidate,
                               const std::vector<std::string>& closure, const RunInstructions& run,
                               const std::optional<std::string>& user, const std::string& created,
                               const std::string& note);

// The app's closure: what a switch carries of the image's own layers, the paths its Dockerfile
// copies (AppNeeds::copy_paths: "/app/" and what is under it, "/opt/name/", a file under
// usr/local). `path` is relative, as layer facts hold it.
bool in_closure(const std::vector<std::string>& copy_paths, std::string_view path);
// The facts of the one layer holding the closure, put over the layers `below` (the candidate's):
// the app layers' notable files as they stack, those in the closure. What a scan of the layer
// `bulwark harden` writes records.
LayerFacts closure_facts(const std::vector<const LayerFacts*>& app_layers,
                         const std::vector<std::string>& copy_paths,
                         const std::vector<const LayerFacts*>& below);
// What the closure's ELF files load (DT_NEEDED, and what those libraries load in turn) that
// measured `candidate` does not hold in its library directories, carried out of the image's own
// layers: a library apt installed for the app goes with it, as a distroless build copies it.
struct CarriedLibraries {
  // The paths to copy: the name the loader looks for ("/lib/x86_64-linux-gnu/libz.so.1") and the
  // file of that DT_SONAME it names when it is a link; sorted.
  std::vector<std::string> paths;
  std::vector<std::string> sonames;  // in the order they were found
  // A library the app needs that the candidate lacks and cannot be carried: only the old base's
  // layers hold it, or its copy in the app's layers was not read as a library. Empty when none.
  std::string why_not;
};
CarriedLibraries carry_libraries(const AdviceInput& in, const AppNeeds& needs,
                                 const MeasuredBase& candidate);
// Why measured `candidate` cannot import the Python packages the closure carries: they are laid
// out for Debian's interpreter (needs.python_dirs) and the candidate is not Debian; empty when it
// can, or when nothing is carried.
std::string unread_python_packages(const AppNeeds& needs, const MeasuredBase& candidate);
// The stand-in for the closure layer's digest and diff_id until it is built.
inline constexpr std::string_view kClosureLayer =
    "sha256:0000000000000000000000000000000000000000000000000000000000000000";

// The USER a switch's Dockerfile and `bulwark harden` set.
inline constexpr std::string_view kHardenedUser = "65532:65532";

// What `bulwark harden` builds for a switch to a measured candidate (or scratch): its layers,
// then one layer of the app's `closure` read from the scanned image's own layers (from
// `app_layers_from`), under `config` (USER kHardenedUser, as the switch's Dockerfile; its last
// diff_id is kClosureLayer until the layer is built). The projected score is what the rules give
// that image (the switch's `built_score`), so a scan of the built image scores the same.
struct SwitchRecipe {
  std::string id;         // the catalog entry
  std::string base;       // its image as the catalog names it
  std::string reference;  // what was measured, where its layers are read; empty for scratch
  std::string manifest_digest;
  std::vector<std::string> candidate_layers;  // digests, bottom first
  std::size_t app_layers_from = 0;            // the image's own layers, where the closure is read
  std::vector<std::string> closure;           // what of them is carried (AppNeeds::copy_paths)
  nlohmann::json config;
  int projected_score = 0;
};
// Errc::not_found for an id no candidate has; Errc::conflict when the candidate is not measured
// yet or cannot carry the app (the message says why).
Result<SwitchRecipe> switch_recipe(const AdviceInput& in, const AppNeeds& needs,
                                   const std::string& id);

}  // namespace bw
