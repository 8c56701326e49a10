#include "analyze/analyze.h"
#include "common/embedded.h"
#include "common/text.h"
#include "common/time_util.h"
#include "layer/image_summary.h"
#include "reference/reference.h"
#include "rules/history.h"
#include "score/score.h"

#include <algorithm>
#include <map>
#include <set>

namespace bw {

using nlohmann::json;

namespace {

bool on_minimal_base(const BaseInfo& base) {
  return base.name.starts_with("distroless") || base.name.starts_with("cgr.dev/") ||
         base.name.find("/distroless/") != std::string::npos || base.name == "wolfi" ||
         base.name == "chainguard" || base.name == "scratch";
}

// Where the package manager installs: a binary there came with an OS package (apt-get install
// python3 in an app layer), not from the team's own build, so its compiler flags are not theirs
// to change.
bool from_os_package(const std::string& path) {
  for (const char* dir : {"bin/", "sbin/", "usr/bin/", "usr/sbin/", "usr/lib/", "usr/libexec/",
                          "lib/", "lib64/", "usr/lib64/"})
    if (path.starts_with(dir)) return true;
  return false;
}

template <typename T>
void keep_app(std::vector<T>& v, const std::set<std::string>& base, auto layer_of) {
  std::erase_if(v, [&](const T& x) { return base.count(layer_of(x)) > 0; });
}

// The image as it would be on `candidate`: the app layers' facts as they are, the old base's
// replaced by what the candidate is known to carry (bases.json), attributed to the bottom layer.
ImageSummary project(const ImageSummary& s, const std::set<std::string>& base,
                     const std::string& bottom, const json& candidate) {
  ImageSummary p = s;
  auto ref_layer = [](const FileRef& f) { return f.layer_digest; };
  for (auto* list : {&p.attack_surface.shell, &p.attack_surface.package_manager,
                     &p.attack_surface.network_tool, &p.attack_surface.debug_tool,
                     &p.attack_surface.toolchain, &p.attack_surface.sshd, &p.attack_surface.sudo,
                     &p.world_writable, &p.unneeded_files, &p.credential_files, &p.authorized_keys})
    keep_app(*list, base, ref_layer);
  keep_app(p.setuid_files, base, [](const SetuidFile& f) { return f.file.layer_digest; });
  keep_app(p.packages, base, [](const InstalledPackage& x) { return x.layer_digest; });
  keep_app(p.package_dbs, base, [](const PackageDbFile& x) { return x.layer_digest; });
  keep_app(p.secrets, base, [](const SecretFile& x) { return x.layer_digest; });
  keep_app(p.deleted_secrets, base, [](const SecretFile& x) { return x.layer_digest; });
  keep_app(p.executables, base, [](const Executable& x) { return x.file.layer_digest; });
  keep_app(p.scripts, base, [](const ScriptFile& x) { return x.file.layer_digest; });
  keep_app(p.unanalysed_layers, base, [](const UnanalysedLayer& x) { return x.layer_digest; });
  if (base.count(p.os_layer_digest)) {
    p.os.reset();
    p.os_layer_digest.clear();
  }
  std::erase_if(p.account_files, [&](auto& kv) { return base.count(kv.second) > 0; });
  if (!p.account_files.count("etc/passwd")) {
    p.accounts = {{"root", "0", "0", "/root", "/sbin/nologin"},
                  {"nonroot", "65532", "65532", "/home/nonroot", "/sbin/nologin"}};
    p.account_files["etc/passwd"] = bottom;
  }
  if (!p.account_files.count("etc/group")) p.groups.clear();
  if (!p.account_files.count("etc/shadow")) p.passwords.clear();
  FileRef sh{"bin/sh", 0755, 0, 0, bottom, ""};
  if (candidate.value("shell", false)) p.attack_surface.shell.push_back(sh);
  if (candidate.value("package_manager", false)) {
    FileRef pm = sh;
    pm.path = candidate.value("libc", "") == "musl" ? "sbin/apk"
              : candidate.value("bash", false)      ? "usr/bin/apt-get"
                                                    : "usr/bin/apk";
    p.attack_surface.package_manager.push_back(pm);
  }
  std::size_t n = candidate.value("packages", std::size_t{0});
  for (std::size_t i = 0; i < n; ++i)
    p.packages.push_back(InstalledPackage{
        Package{"", "base-package-" + std::to_string(i), "", "", "", "", ""}, "", bottom});
  p.ca_certificates |= candidate.value("ca_certificates", false);
  p.tzdata |= candidate.value("tzdata", false);
  return p;
}

// The rules over the projected image and `config`. The image's age goes: a switch is a rebuild.
// Projected from a catalog entry, the old base's own build steps go too (`config` is still the
// scanned image's); composed, the config is the one a build writes, the candidate's steps in it.
std::vector<Finding> projected_findings(const AdviceInput& in, const json& config,
                                        const ImageSummary& projected,
                                        const std::vector<std::string>& layers,
                                        std::size_t base_layers, bool composed) {
  RuleInput ri{
      projected,        config,        layers, base_layers, in.tag, in.now, in.max_image_age_days,
      &in.suppressions, in.image_names};
  auto out = evaluate_rules(in.catalog, ri);
  std::erase_if(out, [&](const Finding& f) {
    return (!composed && f.origin == Origin::base && f.evidence.history_index >= 0) ||
           f.rule_id == "BW-IMAGE-AGE";
  });
  return out;
}

// The image as it would be on a measured candidate, built as the switch would build it: the
// candidate's layers, then one layer holding the app's closure (what the Dockerfile copies);
// the layers' facts merged as any image's are.
struct Composed {
  ImageSummary summary;
  std::vector<std::string> layers;
  std::size_t base_layers = 0;
  std::uint64_t base_bytes = 0;
  std::optional<LayerFacts> closure;
};

Composed compose(const AdviceInput& in, const AppNeeds& needs, const MeasuredBase* candidate) {
  Composed c;
  std::vector<const LayerFacts*> facts;
  if (candidate && candidate->facts)
    for (std::size_t i = 0; i < candidate->layers.size() && i < candidate->facts->size(); ++i) {
      facts.push_back(&(*candidate->facts)[i]);
      c.layers.push_back(candidate->layers[i]);
      c.base_bytes += (*candidate->facts)[i].uncompressed_size;
    }
  c.base_layers = c.layers.size();
  std::vector<const LayerFacts*> app;
  for (std::size_t i = in.base.layers; i < in.layers.size() && i < in.layer_facts.size(); ++i)
    app.push_back(in.layer_facts[i]);
  if (!needs.copy_paths.empty()) {
    c.closure = closure_facts(app, needs.copy_paths, facts);
    facts.push_back(&*c.closure);
    c.layers.emplace_back(kClosureLayer);
  }
  c.summary = summarize_image(facts, c.layers);
  return c;
}

const MeasuredBase* measured_candidate(const AdviceInput& in, const std::string& id) {
  if (!in.measured) return nullptr;
  for (auto& m : *in.measured)
    if (m.id == id) return &m;
  return nullptr;
}

// A switch to one candidate as the rules see it: by construction when the candidate is measured
// (or scratch), from its catalog entry otherwise.
struct Projection {
  const MeasuredBase* measured = nullptr;
  RunInstructions run;
  std::optional<Composed> composed;
  std::vector<Finding> findings;  // the switch alone, the image's own USER kept
  // Composed only: the image the switch's Dockerfile builds (USER kHardenedUser) and its score.
  json built_config;
  int built_score = 0;
};

Projection project_switch(const AdviceInput& in, const AppNeeds& needs, const json& b,
                          const std::set<std::string>& base) {
  Projection p;
  const std::string id = b.value("id", "");
  p.measured = measured_candidate(in, id);
  // The ENTRYPOINT the candidate really has, once measured; the catalog's until then.
  std::vector<std::string> base_entry = b.value("entrypoint", std::vector<std::string>{});
  if (p.measured) {
    base_entry.clear();
    const json& mc = p.measured->config.value("config", json::object());
    if (auto e = mc.find("Entrypoint"); e != mc.end() && e->is_array())
      for (auto& w : *e)
        if (w.is_string()) base_entry.push_back(w);
  }
  p.run = run_instructions(in.config, needs, base_entry, b.value("runtime", ""));
  // Scratch holds nothing, so it is measured by definition.
  if ((p.measured || id == "scratch") && in.layer_facts.size() == in.layers.size()) {
    p.composed = compose(in, needs, p.measured);
    const json candidate = p.measured ? p.measured->config : json::object();
    const std::string created = format_rfc3339(in.now);
    const std::string note = "bulwark harden: the app's closure onto " + id;
    json config =
        composed_config(in.config, candidate, needs.copy_paths, p.run, std::nullopt, created, note);
    p.findings = projected_findings(in, config, p.composed->summary, p.composed->layers,
                                    p.composed->base_layers, true);
    p.built_config = composed_config(in.config, candidate, needs.copy_paths, p.run,
                                     std::string(kHardenedUser), created, note);
    p.built_score =
        score_findings(in.catalog,
                       projected_findings(in, p.built_config, p.composed->summary,
                                          p.composed->layers, p.composed->base_layers, true))
            .score;
  } else {
    p.findings = projected_findings(in, in.config, project(in.summary, base, in.layers[0], b),
                                    in.layers, in.base.layers, false);
  }
  return p;
}

std::string finding_key(const Finding& f) {
  return f.rule_id + "\n" + f.evidence.path;
}

// An action lists at most this many findings in each of removes, keeps and adds, and counts
// the rest beside them ("findings_more", "keeps_more", "adds_more"): its size follows the
// catalog, not the image.
constexpr std::size_t kMaxListedRefs = 50;

void cap_refs(json& list, json& holder, const char* more_key) {
  if (list.size() <= kMaxListedRefs) return;
  holder[more_key] = list.size() - kMaxListedRefs;
  list.erase(list.begin() + static_cast<std::ptrdiff_t>(kMaxListedRefs), list.end());
}

json finding_ref(const Finding& f) {
  json j = {{"rule_id", f.rule_id}, {"origin", f.origin}};
  if (!f.evidence.path.empty()) j["path"] = "/" + f.evidence.path;
  if (!f.evidence.detail.empty()) j["detail"] = f.evidence.detail;
  return j;
}

// A final stage on `image` that copies the app's own paths out of the scanned image and keeps
// its runtime settings; nullopt with `why` when such a stage could not start.
std::optional<std::string> snippet(const AdviceInput& in, const AppNeeds& needs,
                                   const RunInstructions& run, const std::string& from,
                                   std::string& why) {
  if (needs.copy_paths.empty()) {
    why = "no file of the app's own layers was found to copy";
    return std::nullopt;
  }
  const json& cfg = in.config.value("config", json::object());
  std::string out = "FROM " + (in.image_ref.empty() ? std::string("<this image>") : in.image_ref) +
                    " AS build\n\nFROM " + from + "\n";
  for (auto& p : needs.copy_paths) out += "COPY --from=build " + p + " " + p + "\n";
  if (auto w = cfg.find("WorkingDir"); w != cfg.end() && w->is_string() && !w->empty())
    out += "WORKDIR " + w->get<std::string>() + "\n";
  if (auto env = cfg.find("Env"); env != cfg.end() && env->is_array())
    for (auto& e : *env) {
      if (!e.is_string()) continue;
      std::string kv = e;
      auto eq = kv.find('=');
      std::string name = kv.substr(0, eq);
      // PATH is the candidate's; secrets belong in the runtime's secret store, not the image.
      if (eq == std::string::npos || name == "PATH" || is_secret_name(name)) continue;
      out += "ENV " + name + "=" + json(kv.substr(eq + 1)).dump() + "\n";
    }
  if (auto ports = cfg.find("ExposedPorts"); ports != cfg.end() && ports->is_object())
    for (auto& [port, v] : ports->items()) out += "EXPOSE " + port + "\n";
  out += "USER " + std::string(kHardenedUser) + "\n";
  out += dockerfile_lines(run);
  return out;
}

// Why a candidate cannot carry the app, or empty when it can.
std::string unfit(const AppNeeds& n, const json& b) {
  std::string libc = b.value("libc", ""), runtime = b.value("runtime", "");
  if (!n.base_programs.empty()) return "the entrypoint runs /" + n.base_programs.front();
  if (!n.runtime.empty() && runtime != n.runtime) return "it has no " + n.runtime + " runtime";
  if (n.runtime.empty() && !runtime.empty()) return "the app does not run on " + runtime;
  if (n.glibc && libc != "glibc") return "the app's executables need glibc";
  if (n.musl && libc != "musl") return "the app's executables need musl";
  if (n.shell && !b.value("shell", false)) return "the app needs a shell";
  if (n.bash && !b.value("bash", false)) return "the app needs bash";
  if (n.ca_certificates && !b.value("ca_certificates", false))
    return "the image uses CA certificates";
  if (n.tzdata && !b.value("tzdata", false)) return "the image uses time zone data";
  if (n.program_in_base && !n.shell && n.runtime.empty()) {
    std::string prog(path_base_name(n.program));
    auto programs = b.value("programs", std::vector<std::string>{});
    if (std::find(programs.begin(), programs.end(), prog) == programs.end())
      return "it does not provide " + prog;
  }
  return {};
}

// Why candidate `b` cannot carry the app: what it lacks by its entry, then (measured) a library
// the app loads that it neither holds nor can be given from the app's layers, or Python packages
// its interpreter would not read. Empty when it can; then `onto`, when given, is what the app
// needs on it: `needs` and the libraries carried to it.
std::string ruled_out_because(const AdviceInput& in, const AppNeeds& needs, const json& b,
                              AppNeeds* onto = nullptr) {
  std::string why = unfit(needs, b);
  if (onto) *onto = needs;
  if (const MeasuredBase* m = measured_candidate(in, b.value("id", "")); m && why.empty()) {
    CarriedLibraries libs = carry_libraries(in, needs, *m);
    why = libs.why_not;
    if (why.empty()) why = unread_python_packages(needs, *m);
    if (why.empty() && onto && !libs.paths.empty()) {
      auto& paths = onto->copy_paths;
      paths.insert(paths.end(), libs.paths.begin(), libs.paths.end());
      std::sort(paths.begin(), paths.end());
      paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
      onto->why.push_back("carries " + join(libs.sonames, ", ") +
                          " from the app's layers, which the base lacks");
    }
  }
  return why;
}

json action_keep(const BaseInfo& base, const std::string& reason, int score) {
  return json{{"action", "keep"},
              {"base", base.name.empty() ? "current" : base.name},
              {"reason", reason},
              {"removes",
               {{"findings", json::array()},
                {"packages", 0},
                {"shell", false},
                {"package_manager", false},
                {"setuid_files", 0},
                {"bytes", 0}}},
              {"projected_score", score},
              {"projected_grade", grade_for(score)},
              {"score_gain", 0},
              {"dockerfile", ""}};
}

}  // namespace

const json& base_catalog() {
  static const json catalog = json::parse(schema_files::get("bases.json"))["bases"];
  return catalog;
}

Result<json> base_catalog_with(const json& extra) {
  json out = base_catalog();
  std::set<std::string> ids;
  for (auto& b : out) ids.insert(b.value("id", ""));
  if (extra.is_null()) return out;
  if (!extra.is_array()) return make_error(Errc::bad_request, "bases.extra must be an array");
  for (auto& e : extra) {
    if (!e.is_object() || !e.contains("id") || !e["id"].is_string() || !e.contains("image") ||
        !e["image"].is_string())
      return make_error(Errc::bad_request, "a golden base needs an id and an image");
    const std::string id = e["id"];
    if (!ids.insert(id).second) return make_error(Errc::bad_request, "base id used twice: " + id);
    if (auto ref = parse_reference(e["image"].get<std::string>()); !ref)
      return make_error(Errc::bad_reference, "base " + id + ": " + ref.error().message);
    json entry = {{"libc", "glibc"},
                  {"shell", false},
                  {"bash", false},
                  {"package_manager", false},
                  {"packages", 0},
                  {"user", ""},
                  {"ca_certificates", false},
                  {"tzdata", false},
                  {"size_mb", 0},
                  {"runtime", ""},
                  {"programs", json::array()},
                  {"risk", 0},
                  {"golden", true}};
    for (auto& [k, v] : e.items()) entry[k] = v;
    out.push_back(std::move(entry));
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> base_references(
    const json& catalog, const std::map<std::string, std::string>& mirrors) {
  std::vector<std::pair<std::string, std::string>> out;
  std::set<std::string> ids;
  for (auto& b : catalog) {
    const std::string id = b.value("id", "");
    ids.insert(id);
    if (id == "scratch") continue;
    auto mirror = mirrors.find(id);
    const std::string named = mirror != mirrors.end() ? mirror->second : b.value("image", "");
    auto ref = parse_reference(named);
    if (!ref) return make_error(Errc::bad_reference, "base " + id + ": " + ref.error().message);
    out.emplace_back(id, ref->canonical());
  }
  for (auto& [id, ref] : mirrors)
    if (!ids.count(id)) return make_error(Errc::bad_request, "no catalog base " + id);
  return out;
}

// The steps to take in order (the best switch, then the app's fixes, heaviest first), each with
// the score once it and the ones before it are done: a fix that gains nothing alone at the
// flat end of the score curve still counts once the others are made.
json plan_of(const AdviceInput& in, std::vector<Finding> now, const json* best_switch,
             int current) {
  json steps = json::array();
  int score = current;
  if (best_switch) {
    score = (*best_switch)["projected_score"];
    steps.push_back({{"action", "switch"},
                     {"id", (*best_switch)["id"]},
                     {"base", (*best_switch)["base"]},
                     {"score_after", score},
                     {"grade_after", grade_for(score)}});
  }
  std::erase_if(now, [](const Finding& f) { return f.suppressed; });
  std::vector<std::string> rules;
  for (auto& f : now)
    if (f.origin == Origin::app && std::find(rules.begin(), rules.end(), f.rule_id) == rules.end())
      rules.push_back(f.rule_id);
  auto weight = [&](const std::string& id) {
    const RuleDef* d = in.catalog.find(id);
    return d ? d->weight : 0;
  };
  std::stable_sort(rules.begin(), rules.end(), [&](const std::string& a, const std::string& b) {
    return weight(a) > weight(b);
  });
  for (auto& rule : rules) {
    std::erase_if(now,
                  [&](const Finding& f) { return f.rule_id == rule && f.origin == Origin::app; });
    score = score_findings(in.catalog, now).score;
    const RuleDef* d = in.catalog.find(rule);
    steps.push_back({{"action", "fix"},
                     {"rule_id", rule},
                     {"title", d ? d->title : ""},
                     {"score_after", score},
                     {"grade_after", grade_for(score)}});
  }
  json plan = {{"steps", std::move(steps)}, {"score", score}, {"grade", grade_for(score)}};
  if (grade_for(score) > Grade::B) {
    std::vector<std::string> left;
    for (auto& f : now)
      if (std::find(left.begin(), left.end(), f.rule_id) == left.end()) left.push_back(f.rule_id);
    plan["why_not_b"] =
        std::string(best_switch ? "what the new base still carries: "
                                : "no candidate base fits the app, and the current base keeps: ") +
        join(left, ", ");
  }
  return plan;
}

json advise(const AdviceInput& in, const AppNeeds& needs, json* plan) {
  int current = score_findings(in.catalog, in.findings).score;
  std::vector<std::string> base_digests(
      in.layers.begin(),
      in.layers.begin() + static_cast<std::ptrdiff_t>(std::min(in.base.layers, in.layers.size())));
  std::set<std::string> base(base_digests.begin(), base_digests.end());
  std::vector<Finding> live;
  for (auto& f : in.findings)
    if (!f.suppressed) live.push_back(f);

  // Switches: every candidate that carries what the app needs, projected by the rules.
  json switches = json::array();
  std::map<std::string, std::vector<Finding>> best_projection;  // by candidate id, for the plan
  std::vector<std::string> unfit_reasons;
  // Minimal by what the image holds, not by its base's name: wolfi-base carries busybox's ash
  // and apk, so it is no place to stop.
  const bool bare =
      in.summary.attack_surface.shell.empty() && in.summary.attack_surface.package_manager.empty();
  bool minimal = on_minimal_base(in.base) && bare;
  if ((!minimal || in.every_candidate) && !base.empty() && needs.known()) {
    std::set<std::string> before;
    std::map<std::string, int> fired_before;
    for (auto& f : live) {
      before.insert(finding_key(f));
      ++fired_before[f.rule_id];
    }
    std::size_t base_setuid = 0, setuid_now = 0;
    for (auto& f : live)
      if (f.rule_id == "BW-SUID") {
        setuid_now += 1 + f.more;
        if (f.origin == Origin::base) ++base_setuid;
      }
    for (auto& b : in.bases ? *in.bases : base_catalog()) {
      AppNeeds onto;
      std::string why = ruled_out_because(in, needs, b, &onto);
      if (!why.empty()) {
        unfit_reasons.push_back(b.value("id", "") + ": " + why);
        continue;
      }
      if (in.base.name == b.value("image", "") || in.base.name == b.value("id", "")) continue;
      Projection proj = project_switch(in, onto, b, base);
      const MeasuredBase* measured = proj.measured;
      const std::optional<Composed>& composed = proj.composed;
      auto projected_list = std::move(proj.findings);
      int projected = score_findings(in.catalog, projected_list).score;
      // A rule that folds its paths into one finding (BW-SHELL: "shells: /bin/ash, /bin/sh")
      // is compared by whether it fires, whatever path leads: a candidate whose busybox
      // brings /bin/ash keeps a shell rather than removing /bin/sh and adding /bin/ash. A rule
      // with a finding per path (BW-SUID) is compared path by path.
      std::set<std::string> after;
      std::map<std::string, int> fired_after;
      for (auto& f : projected_list)
        if (!f.suppressed) {
          after.insert(finding_key(f));
          ++fired_after[f.rule_id];
        }
      auto fired = [](const std::map<std::string, int>& m, const std::string& rule) {
        auto it = m.find(rule);
        return it == m.end() ? 0 : it->second;
      };
      auto folded = [&](const std::string& rule) {
        return fired(fired_before, rule) <= 1 && fired(fired_after, rule) <= 1;
      };
      json keeps = json::array(), adds = json::array(), removes = json::array();
      for (auto& f : projected_list)
        if (!f.suppressed) {
          bool kept = before.count(finding_key(f)) ||
                      (folded(f.rule_id) && fired(fired_before, f.rule_id) > 0);
          (kept ? keeps : adds).push_back(finding_ref(f));
        }
      for (auto& f : live)
        if (!after.count(finding_key(f)) &&
            !(folded(f.rule_id) && fired(fired_after, f.rule_id) > 0))
          removes.push_back(finding_ref(f));
      std::string snippet_why;
      // FROM what was measured: a mirror is what an air-gapped build can pull.
      auto dockerfile = snippet(in, onto, proj.run,
                                measured ? measured->reference : b.value("image", ""), snippet_why);
      std::uint64_t base_mb =
          composed ? composed->base_bytes : b.value("size_mb", 0ull) * 1000000ull;
      std::size_t packages = in.summary.packages.size(),
                  bp = composed ? composed->summary.packages.size()
                                : b.value("packages", std::size_t{0});
      const bool candidate_shell =
          composed ? !composed->summary.attack_surface.shell.empty() : b.value("shell", false);
      const bool candidate_pm = composed ? !composed->summary.attack_surface.package_manager.empty()
                                         : b.value("package_manager", false);
      std::size_t setuid_after = 0;
      for (auto& f : projected_list)
        if (f.rule_id == "BW-SUID" && !f.suppressed) setuid_after += 1 + f.more;
      std::string reason = "provides what the app needs";
      if (!onto.why.empty()) reason += ": " + join(onto.why, "; ");
      json action = {
          {"action", "switch"},
          {"id", b.value("id", "")},
          {"base", b.value("image", "")},
          {"reason", reason},
          {"removes",
           {{"findings", std::move(removes)},
            {"packages", packages > bp ? packages - bp : 0},
            {"shell", !in.summary.attack_surface.shell.empty() && !candidate_shell},
            {"package_manager",
             !in.summary.attack_surface.package_manager.empty() && !candidate_pm},
            {"setuid_files",
             composed ? (setuid_now > setuid_after ? setuid_now - setuid_after : 0) : base_setuid},
            {"bytes", in.base_bytes > base_mb ? in.base_bytes - base_mb : 0}}},
          {"keeps", std::move(keeps)},
          {"adds", std::move(adds)},
          {"projected_score", projected},
          {"projected_grade", grade_for(projected)},
          {"score_gain", projected - current},
          {"risk", b.value("risk", 0)},
          {"dockerfile", dockerfile ? *dockerfile : ""},
          // "measured": the rules ran on the candidate's scanned layers with the app's on top;
          // "catalog": on the catalog entry's description, until the candidate is measured.
          {"projection", composed ? "measured" : "catalog"}};
      if (measured)
        action["measured"] = {{"reference", measured->reference},
                              {"manifest_digest", measured->manifest_digest}};
      // What the Dockerfile (and bulwark harden) builds scores: the switch with its USER line.
      if (composed) action["built_score"] = proj.built_score;
      if (!dockerfile) action["dockerfile_missing"] = snippet_why;
      cap_refs(action["removes"]["findings"], action["removes"], "findings_more");
      cap_refs(action["keeps"], action, "keeps_more");
      cap_refs(action["adds"], action, "adds_more");
      if (projected > current || in.every_candidate) {
        best_projection[b.value("id", "")] = std::move(projected_list);
        switches.push_back(std::move(action));
      }
    }
  }

  // Fixes: what the app's own layers and config trip, one per rule, by the rule's remediation.
  json fixes = json::array();
  std::map<std::string, std::vector<const Finding*>> by_rule;
  for (auto& f : live)
    if (f.origin == Origin::app) by_rule[f.rule_id].push_back(&f);
  for (auto& [rule, list] : by_rule) {
    const RuleDef* d = in.catalog.find(rule);
    std::vector<Finding> rest;
    for (auto& f : live)
      if (f.rule_id != rule) rest.push_back(f);
    int projected = score_findings(in.catalog, rest).score;
    if (projected <= current) continue;
    json evidence = json::array();
    std::set<std::string> layers_named;
    for (auto* f : list) {
      if (evidence.size() < 10) evidence.push_back(finding_ref(*f));
      if (!f->layer_digest.empty()) layers_named.insert(f->layer_digest);
    }
    std::string step = d ? d->remediation : "";
    if (d && d->category == "binary_hardening") {
      std::vector<std::string> packaged, built;
      for (auto* f : list)
        (from_os_package(f->evidence.path) ? packaged : built).push_back("/" + f->evidence.path);
      if (!packaged.empty()) {
        if (packaged.size() > 5) {
          packaged.resize(5);
          packaged.push_back("…");
        }
        std::string way_out =
            join(packaged, ", ") +
            " came with OS packages, whose build flags are not yours to change: leave the "
            "packages out of the final image (a multi-stage build that copies only what the "
            "app runs), or move to a base whose build of them is hardened.";
        step = built.empty() ? way_out : step + " For your own binaries; " + way_out;
      }
    }
    if (d && d->category == "secrets" && !layers_named.empty()) {
      std::vector<std::string> names;
      for (auto& l : layers_named) {
        auto at = std::find(in.layers.begin(), in.layers.end(), l) - in.layers.begin();
        names.push_back("layer " + std::to_string(at));
      }
      step += " It stays readable in " + join(names, ", ") +
              " whatever later layers do: rebuild without it, and rotate it.";
    }
    fixes.push_back({{"action", "fix"},
                     {"rule_id", rule},
                     {"title", d ? d->title : ""},
                     {"severity", d ? d->severity : Severity::info},
                     {"step", step},
                     {"references", d ? d->references : std::vector<std::string>{}},
                     {"evidence", std::move(evidence)},
                     {"projected_score", projected},
                     {"projected_grade", grade_for(projected)},
                     {"score_gain", projected - current}});
  }

  json out = json::array();
  if (minimal) {
    out.push_back(action_keep(in.base,
                              in.base.name == "scratch"
                                  ? "built FROM scratch: the image holds only the app's own files"
                                  : "already on a minimal base with no shell or package manager",
                              current));
  } else if (switches.empty()) {
    std::string reason;
    if (base.empty())
      reason = "the base image could not be identified, so no switch can be projected";
    else if (!needs.known())
      reason =
          "Bulwark found nothing the app runs (no executable, script or runtime in the app "
          "layers or entrypoint), so no candidate base can be judged";
    else if (!needs.base_programs.empty())
      reason = "the entrypoint runs /" + join(needs.base_programs, ", /") +
               ", which only the current base or an OS package provides; fix that first";
    else
      reason =
          "no candidate base scores higher for what the app needs (" + join(needs.why, "; ") + ")";
    if (!unfit_reasons.empty() && needs.known() && needs.base_programs.empty())
      reason += "; ruled out: " + join(unfit_reasons, "; ");
    out.push_back(action_keep(in.base, reason, current));
  }
  // The best few switches: past them the list only repeats the same gain on riskier bases.
  constexpr std::size_t kMaxSwitches = 4;
  std::vector<json> ranked(switches.begin(), switches.end());
  std::stable_sort(ranked.begin(), ranked.end(), [](const json& a, const json& b) {
    if (a["score_gain"] != b["score_gain"]) return a["score_gain"] > b["score_gain"];
    return a.value("risk", 0) < b.value("risk", 0);
  });
  if (ranked.size() > kMaxSwitches && !in.every_candidate) ranked.resize(kMaxSwitches);
  std::vector<json> actions(ranked.begin(), ranked.end());
  actions.insert(actions.end(), fixes.begin(), fixes.end());
  std::stable_sort(actions.begin(), actions.end(),
                   [](const json& a, const json& b) { return a["score_gain"] > b["score_gain"]; });
  if (plan) {
    const json* best = nullptr;
    std::vector<Finding> start = live;
    if (!ranked.empty()) {
      best = &ranked.front();
      start = best_projection[best->value("id", "")];
    }
    *plan = plan_of(in, std::move(start), best, current);
  }
  for (auto& a : actions) out.push_back(std::move(a));
  return out;
}

json judge_candidates(AdviceInput in, const AppNeeds& needs) {
  in.every_candidate = true;
  json switches = json::array();
  for (auto& a : advise(in, needs))
    if (a.value("action", "") == "switch") switches.push_back(std::move(a));
  json ruled_out = json::array();
  for (auto& b : in.bases ? *in.bases : base_catalog()) {
    if (std::string why = ruled_out_because(in, needs, b); !why.empty())
      ruled_out.push_back(
          {{"id", b.value("id", "")}, {"base", b.value("image", "")}, {"reason", why}});
  }
  return json{{"switches", std::move(switches)}, {"ruled_out", std::move(ruled_out)}};
}

Result<SwitchRecipe> switch_recipe(const AdviceInput& in, const AppNeeds& needs,
                                   const std::string& id) {
  const json* entry = nullptr;
  for (auto& b : in.bases ? *in.bases : base_catalog())
    if (b.value("id", "") == id) entry = &b;
  if (!entry) return make_error(Errc::not_found, "no candidate base " + id);
  if (in.base.layers == 0 || in.base.layers > in.layers.size())
    return make_error(Errc::conflict,
                      "the image's base could not be identified, so its own layers are not known");
  AppNeeds onto;
  if (std::string why = ruled_out_because(in, needs, *entry, &onto); !why.empty())
    return make_error(Errc::conflict, id + " cannot carry the app: " + why);
  std::set<std::string> base(in.layers.begin(),
                             in.layers.begin() + static_cast<std::ptrdiff_t>(in.base.layers));
  Projection p = project_switch(in, onto, *entry, base);
  if (!p.composed)
    return make_error(Errc::conflict, id + " is not measured yet (GET /v1/bases says when it is)");
  SwitchRecipe r;
  r.id = id;
  r.base = entry->value("image", "");
  if (p.measured) {
    r.reference = p.measured->reference;
    r.manifest_digest = p.measured->manifest_digest;
    r.candidate_layers = p.measured->layers;
  }
  r.app_layers_from = in.base.layers;
  r.closure = onto.copy_paths;
  r.config = std::move(p.built_config);
  r.projected_score = p.built_score;
  return r;
}

}  // namespace bw
