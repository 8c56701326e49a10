#include "analyze/analyze.h"
#include "common/text.h"
#include "rules/history.h"
#include "score/score.h"

#include <algorithm>

namespace bw {

using nlohmann::json;

namespace {

std::vector<std::string> words_of(const json& cfg, const char* key) {
  std::vector<std::string> out;
  if (auto e = cfg.find(key); e != cfg.end() && e->is_array())
    for (auto& w : *e)
      if (w.is_string()) out.push_back(w);
  return out;
}

std::string env_name(const std::string& entry) {
  return entry.substr(0, entry.find('='));
}

}  // namespace

RunInstructions run_instructions(const json& config, const AppNeeds& needs,
                                 const std::vector<std::string>& base_entry,
                                 const std::string& runtime) {
  RunInstructions out;
  std::vector<std::string> words = needs.entry;
  if (words.empty()) return out;
  const json& cfg = config.value("config", json::object());
  bool changed = false;
  if (!base_entry.empty() && !runtime.empty() &&
      runtime_of_program(path_base_name(words[0])) == runtime) {
    if (needs.from_cmd && words.size() >= base_entry.size() &&
        std::equal(base_entry.begin() + 1, base_entry.end(), words.begin() + 1)) {
      out.cmd = std::vector<std::string>(
          words.begin() + static_cast<std::ptrdiff_t>(base_entry.size()), words.end());
      return out;
    }
    words[0] = base_entry[0];
    changed = true;
  }
  if (needs.from_cmd) {
    if (base_entry.empty()) {
      out.cmd = words;
    } else {
      out.entrypoint = words;
    }
    return out;
  }
  std::vector<std::string> as_set = words_of(cfg, "Entrypoint");
  auto cmd = words_of(cfg, "Cmd");
  as_set.insert(as_set.end(), cmd.begin(), cmd.end());
  // A plain shell-form command, run without the shell the candidate may not have.
  if (changed || words != as_set) {
    out.entrypoint = words;
    return out;
  }
  out.entrypoint = words_of(cfg, "Entrypoint");
  if (!cmd.empty()) out.cmd = cmd;
  return out;
}

std::string dockerfile_lines(const RunInstructions& run) {
  std::string out;
  if (run.entrypoint) out += "ENTRYPOINT " + json(*run.entrypoint).dump() + "\n";
  if (run.cmd) out += "CMD " + json(*run.cmd).dump() + "\n";
  return out;
}

json composed_config(const json& source, const json& candidate,
                     const std::vector<std::string>& closure, const RunInstructions& run,
                     const std::optional<std::string>& user, const std::string& created,
                     const std::string& note) {
  const json& from = source.value("config", json::object());
  json cfg = candidate.value("config", json::object());
  if (!cfg.is_object()) cfg = json::object();
  // Env: the candidate's, then the app's over it, as ENV lines after FROM make it. PATH stays the
  // candidate's; secrets belong in the runtime's secret store, not the image.
  std::vector<std::string> env = words_of(cfg, "Env");
  for (auto& e : words_of(from, "Env")) {
    const std::string name = env_name(e);
    if (e.find('=') == std::string::npos || name == "PATH" || is_secret_name(name)) continue;
    std::erase_if(env, [&](const std::string& x) { return env_name(x) == name; });
    env.push_back(e);
  }
  if (env.empty())
    cfg.erase("Env");
  else
    cfg["Env"] = env;
  if (auto w = from.find("WorkingDir"); w != from.end() && w->is_string() && !w->empty())
    cfg["WorkingDir"] = *w;
  if (auto ports = from.find("ExposedPorts"); ports != from.end() && ports->is_object())
    for (auto& [port, v] : ports->items()) cfg["ExposedPorts"][port] = json::object();
  const std::string as = user ? *user : from.value("User", "");
  if (as.empty())
    cfg.erase("User");
  else
    cfg["User"] = as;
  if (run.entrypoint) {
    cfg["Entrypoint"] = *run.entrypoint;
    // An ENTRYPOINT resets the CMD the base set, as docker build does.
    cfg.erase("Cmd");
  }
  if (run.cmd) cfg["Cmd"] = *run.cmd;
  if (cfg.contains("Entrypoint") && cfg["Entrypoint"].empty()) cfg.erase("Entrypoint");
  if (cfg.contains("Cmd") && cfg["Cmd"].empty()) cfg.erase("Cmd");

  json diff_ids = candidate.value("rootfs", json::object()).value("diff_ids", json::array());
  if (!diff_ids.is_array()) diff_ids = json::array();
  json history = candidate.value("history", json::array());
  if (!history.is_array()) history = json::array();
  // One layer for the app's closure, as one COPY of its paths out of the old image makes it.
  if (!closure.empty()) {
    diff_ids.push_back(std::string(kClosureLayer));
    std::string copy = "COPY --from=build";
    for (auto& p : closure) copy += " " + p;
    history.push_back({{"created", created}, {"created_by", copy}, {"comment", "bulwark harden"}});
  }
  history.push_back({{"created", created},
                     {"created_by", note},
                     {"comment", "bulwark harden"},
                     {"empty_layer", true}});
  json out = {{"architecture", source.value("architecture", candidate.value("architecture", ""))},
              {"os", source.value("os", candidate.value("os", "linux"))},
              {"created", created},
              {"config", std::move(cfg)},
              {"rootfs", {{"type", "layers"}, {"diff_ids", std::move(diff_ids)}}},
              {"history", std::move(history)}};
  if (auto v = source.find("variant"); v != source.end() && v->is_string() && !v->empty())
    out["variant"] = *v;
  return out;
}

}  // namespace bw
