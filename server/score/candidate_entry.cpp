#include "common/text.h"
#include "score/score.h"

#include <set>

namespace bw {

using nlohmann::json;

// A base named by reference (`harden --onto REF`) has no catalog entry: what it provides is read
// from what was measured in it, the facts the catalog's own entries are checked against.
json candidate_entry(const std::string& image, const ImageSummary& s, const json& config) {
  std::string libc;
  std::set<std::string> programs;
  for (auto& x : s.executables) {
    const std::string name(path_base_name(x.file.path));
    // The loader and the C library themselves, or any program that links them.
    if (name.starts_with("ld-musl-") || x.elf.libc == Libc::musl)
      libc = "musl";
    else if (libc.empty() && (name.starts_with("ld-linux") || name.starts_with("libc.so.") ||
                              x.elf.libc == Libc::glibc))
      libc = "glibc";
    if (x.elf.kind == ElfKind::executable) programs.insert(name);
  }
  if (has_libc(s, Libc::musl))
    libc = "musl";
  else if (libc.empty() && has_libc(s, Libc::glibc))
    libc = "glibc";
  for (auto* list : {&s.attack_surface.shell, &s.attack_surface.package_manager})
    for (auto& f : *list) programs.insert(std::string(path_base_name(f.path)));
  bool bash = false;
  for (auto& f : s.attack_surface.shell) bash |= path_base_name(f.path) == "bash";
  const json& c = config.value("config", json::object());
  json entry = {{"id", image},
                {"image", image},
                {"libc", libc},
                {"shell", !s.attack_surface.shell.empty()},
                {"bash", bash},
                {"package_manager", !s.attack_surface.package_manager.empty()},
                {"ca_certificates", s.ca_certificates},
                {"tzdata", s.tzdata},
                {"runtime", s.runtimes.empty() ? "" : s.runtimes.front()},
                {"programs", programs},
                {"user", c.value("User", "")},
                {"risk", 0}};
  if (auto e = c.find("Entrypoint"); e != c.end() && e->is_array()) entry["entrypoint"] = *e;
  return entry;
}

}  // namespace bw
