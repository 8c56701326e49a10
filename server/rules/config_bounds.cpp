// A config under the size limit can still hold one 5 MB string; everything built from it (the
// stored config, findings, advice, the user column) would copy it. Clipping once, here, bounds
// them all.
#include "common/text.h"
#include "rules/history.h"

namespace bw {

using nlohmann::json;

namespace {

void clip_string(json& j, std::size_t max) {
  if (j.is_string() && j.get_ref<const std::string&>().size() > max)
    j = clip(j.get_ref<const std::string&>(), max);
}

void clip_strings(json& array) {
  if (!array.is_array()) return;
  for (auto& x : array) clip_string(x, kMaxConfigString);
}

// An object's keys (and, for labels, its values) clipped. Two keys with the same first bytes
// become one: the later wins, as it would for a duplicate key.
void clip_object(json& object, bool values) {
  if (!object.is_object()) return;
  json out = json::object();
  for (auto& [key, value] : object.items()) {
    json v = std::move(value);
    if (values) clip_string(v, kMaxConfigString);
    out[clip(key, kMaxConfigString)] = std::move(v);
  }
  object = std::move(out);
}

void bound_run_config(json& c) {
  if (!c.is_object()) return;
  for (const char* k : {"User", "WorkingDir", "StopSignal", "Hostname", "Domainname", "Image"})
    if (auto it = c.find(k); it != c.end()) clip_string(*it, kMaxConfigString);
  for (const char* k : {"Env", "Entrypoint", "Cmd", "Shell", "OnBuild"})
    if (auto it = c.find(k); it != c.end()) clip_strings(*it);
  if (auto it = c.find("Labels"); it != c.end()) clip_object(*it, true);
  for (const char* k : {"ExposedPorts", "Volumes"})
    if (auto it = c.find(k); it != c.end()) clip_object(*it, false);
  if (auto hc = c.find("Healthcheck"); hc != c.end() && hc->is_object())
    if (auto test = hc->find("Test"); test != hc->end()) clip_strings(*test);
}

}  // namespace

json bound_config(json config) {
  if (!config.is_object()) return config;
  for (const char* k : {"author", "created", "comment"})
    if (auto it = config.find(k); it != config.end()) clip_string(*it, kMaxConfigString);
  for (const char* k : {"config", "container_config"})
    if (auto it = config.find(k); it != config.end()) bound_run_config(*it);
  if (auto h = config.find("history"); h != config.end() && h->is_array())
    for (auto& step : *h) {
      if (!step.is_object()) continue;
      if (auto it = step.find("created_by"); it != step.end()) clip_string(*it, kMaxHistoryText);
      for (const char* k : {"author", "comment", "created"})
        if (auto it = step.find(k); it != step.end()) clip_string(*it, kMaxConfigString);
    }
  return config;
}

}  // namespace bw
