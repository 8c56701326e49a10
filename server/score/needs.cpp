#include "analyze/analyze.h"
#include "common/text.h"
#include "score/score.h"

#include <algorithm>
#include <map>
#include <set>

namespace bw {

using nlohmann::json;

namespace {

// Programs every base with a shell has (busybox applets, coreutils): a script that runs them
// needs a shell, nothing more.
bool shell_utility(std::string_view program) {
  for (std::string_view s :
       {"env",   "cat",    "echo",     "printf",  "sleep",    "mkdir",    "rm",   "cp",
        "mv",    "ls",     "chmod",    "chown",   "test",     "[",        "sed",  "grep",
        "awk",   "tr",     "cut",      "date",    "id",       "kill",     "ln",   "touch",
        "true",  "false",  "head",     "tail",    "sort",     "uniq",     "wc",   "xargs",
        "find",  "tee",    "basename", "dirname", "readlink", "realpath", "expr", "hostname",
        "uname", "whoami", "nohup",    "timeout", "sync",     "stat"})
    if (program == s) return true;
  return false;
}

// Top-level directories that belong to the OS: files there come from packages, not the app
// (except under usr/local).
bool system_path(std::string_view p) {
  std::string_view top = p.substr(0, p.find('/'));
  for (std::string_view s : {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "var",
                             "dev", "proc", "sys", "run", "tmp", "boot", "root"})
    if (top == s) return !p.starts_with("usr/local/");
  return false;
}

// What a new final stage copies for an app file: its top directory ("/app/"), "/opt/<name>/",
// or the file itself under usr/local.
std::string copy_path_of(std::string_view p) {
  auto first = p.find('/');
  if (p.starts_with("usr/local/")) return "/" + std::string(p);
  if (first == std::string_view::npos) return "/" + std::string(p);
  std::string_view top = p.substr(0, first);
  if (top == "opt" || top == "home" || top == "srv") {
    auto second = p.find('/', first + 1);
    if (second != std::string_view::npos) return "/" + std::string(p.substr(0, second + 1));
  }
  return "/" + std::string(top) + "/";
}

std::vector<std::string> entry_of(const json& config) {
  std::vector<std::string> out;
  const json& cfg = config.value("config", json::object());
  for (const char* k : {"Entrypoint", "Cmd"})
    if (auto e = cfg.find(k); e != cfg.end() && e->is_array())
      for (auto& w : *e)
        if (w.is_string()) out.push_back(w);
  // Docker's shell form wraps a command in `/bin/sh -c`; one plain command needs no shell to
  // run, so it is read as the words it is.
  if (out.size() == 3 && (out[0] == "/bin/sh" || out[0] == "sh") && out[1] == "-c") {
    constexpr std::string_view kShellSyntax = "|&;<>()$`\\\"'*?[]#~%{}!\n";
    const std::string& line = out[2];
    if (line.find_first_of(kShellSyntax) == std::string::npos) {
      std::vector<std::string> words;
      for (std::size_t i = 0; i < line.size();) {
        std::size_t end = line.find_first_of(" \t", i);
        if (end == std::string::npos) end = line.size();
        if (end > i) words.push_back(line.substr(i, end - i));
        i = end + 1;
      }
      // A leading NAME=value is an assignment for the shell to make.
      if (!words.empty() && words[0].find('=') == std::string::npos) return words;
    }
  }
  return out;
}

bool sets(const json& config, const char* key) {
  const json& cfg = config.value("config", json::object());
  auto e = cfg.find(key);
  return e != cfg.end() && e->is_array() && !e->empty();
}

}  // namespace

AppNeeds infer_needs(const ImageSummary& summary, const json& config,
                     const std::vector<std::string>& base_layers) {
  AppNeeds n;
  std::set<std::string> base(base_layers.begin(), base_layers.end());
  // Every program the facts know, by path, with the layer that brought it.
  std::map<std::string, std::string> programs;
  for (auto& x : summary.executables) programs[x.file.path] = x.file.layer_digest;
  for (auto& x : summary.scripts) programs[x.file.path] = x.file.layer_digest;
  for (auto* list : {&summary.attack_surface.shell, &summary.attack_surface.package_manager,
                     &summary.attack_surface.network_tool, &summary.attack_surface.debug_tool,
                     &summary.attack_surface.toolchain, &summary.attack_surface.sshd})
    for (auto& f : *list) programs.emplace(f.path, f.layer_digest);
  auto resolve = [&](const std::string& word) -> std::string {
    if (word.starts_with("/")) return word.substr(1);
    for (const char* dir :
         {"usr/local/sbin/", "usr/local/bin/", "usr/sbin/", "usr/bin/", "sbin/", "bin/"})
      if (programs.count(dir + word)) return dir + word;
    return {};
  };
  auto from_base = [&](const std::string& path) {
    auto it = programs.find(path);
    return (it != programs.end() && base.count(it->second)) || system_path(path);
  };
  auto script_at = [&](const std::string& path) -> const ScriptFile* {
    for (auto& s : summary.scripts)
      if (s.file.path == path) return &s;
    return nullptr;
  };
  auto add_copy = [&](const std::string& path) {
    if (path.empty() || system_path(path)) return;
    std::string c = copy_path_of(path);
    if (std::find(n.copy_paths.begin(), n.copy_paths.end(), c) == n.copy_paths.end())
      n.copy_paths.push_back(std::move(c));
  };
  // What a program it runs needs: a shell, a runtime, or a program only the old base has.
  auto needs_program = [&](const std::string& path, const std::string& why) {
    std::string_view b = path_base_name(path);
    if (is_shell_name(b)) {
      n.shell = true;
      n.bash |= b == "bash";
      n.why.push_back(why + " runs " + std::string(b) + ": a shell");
    } else if (shell_utility(b)) {
      n.shell = true;
      n.why.push_back(why + " runs " + std::string(b) + ": a shell utility");
    } else if (auto rt = runtime_of_program(b); !rt.empty()) {
      n.runtime = rt;
      n.why.push_back(why + " runs " + std::string(b) + ": the " + std::string(rt) + " runtime");
    } else if (from_base(path) && std::find(n.base_programs.begin(), n.base_programs.end(), path) ==
                                      n.base_programs.end()) {
      n.base_programs.push_back(path);
      n.why.push_back(why + " runs /" + path +
                      ", which the current base or an OS package "
                      "provides");
    }
  };
  auto needs_script = [&](const ScriptFile& s, const std::string& why) {
    needs_program(s.script.interpreter, why + " (a " + s.script.interpreter + " script)");
    for (auto& call : s.script.calls) needs_program(call, "/" + s.file.path);
  };

  n.entry = entry_of(config);
  n.from_cmd = !sets(config, "Entrypoint") && sets(config, "Cmd");
  if (auto w = config.value("config", json::object()).value("WorkingDir", std::string());
      w.starts_with("/") && w.size() > 1) {
    n.workdir = w.substr(1);
    while (n.workdir.ends_with("/")) n.workdir.pop_back();
  }
  if (!n.entry.empty()) {
    std::string path = resolve(n.entry[0]);
    n.program = path.empty() ? n.entry[0] : path;
    n.program_in_base = !path.empty() && from_base(path);
    std::string_view prog = path_base_name(n.entry[0]);
    std::string what = "the entrypoint " + n.entry[0];
    if (auto* s = script_at(path)) {
      needs_script(*s, what);
      add_copy(path);
    } else if (is_shell_name(prog) || !runtime_of_program(prog).empty()) {
      needs_program(n.program, what);
      if (is_shell_name(prog) && n.entry.size() > 2 && n.entry[1] == "-c")
        for (auto& call : programs_named_in(n.entry[2])) needs_program(call, what);
    } else if (n.program_in_base) {
      needs_program(path, what);
    } else {
      add_copy(path);
    }
    // Arguments that are files of the image: a script the shell or runtime runs, a jar; a
    // relative one (`node index.js`) is read from WORKDIR, as the runtime reads it.
    for (std::size_t i = 1; i < n.entry.size(); ++i) {
      const std::string& arg = n.entry[i];
      std::string p;
      if (arg.starts_with("/"))
        p = arg.substr(1);
      else if (!n.workdir.empty() && !arg.starts_with("-") &&
               arg.find_first_of("./") != std::string::npos)
        p = n.workdir + "/" + (arg.starts_with("./") ? arg.substr(2) : arg);
      else
        continue;
      if (auto* s = script_at(p)) needs_script(*s, "the entrypoint's " + arg);
      add_copy(p);
    }
  }
  // What the app layers' executables link, and the entrypoint's (the base's own tools say
  // nothing about the app).
  for (auto& x : summary.executables) {
    bool app = !base.count(x.file.layer_digest) && !system_path(x.file.path);
    if (!app && x.file.path != n.program) continue;
    if (app) add_copy(x.file.path);
    if (x.elf.is_static) n.static_binary = true;
    if (x.elf.libc == Libc::glibc) n.glibc = true;
    if (x.elf.libc == Libc::musl) n.musl = true;
  }
  if (n.glibc) n.why.push_back("the app's executables link glibc");
  if (n.musl) n.why.push_back("the app's executables link musl");
  if (n.static_binary && !n.glibc && !n.musl) n.why.push_back("the app's executables are static");
  for (auto& x : summary.scripts)
    if (!base.count(x.file.layer_digest) && !system_path(x.file.path)) add_copy(x.file.path);
  if (n.runtime.empty() && !summary.runtimes.empty()) {
    n.runtime = summary.runtimes.front();
    n.why.push_back("the image carries the " + n.runtime + " runtime");
  }
  // Python packages the app's layers installed where Debian's interpreter looks: a runtime base
  // brings Python, not them. site-packages elsewhere (a virtualenv under /app) is carried with
  // the app's own directory.
  if (n.runtime == "python")
    for (auto& p : summary.app_packages) {
      if (p.package.ecosystem != "pypi" || base.count(p.layer_digest)) continue;
      std::string_view path = p.path;
      auto at = path.find("/dist-packages/");
      if (at == std::string_view::npos) continue;
      std::string dir = "/" + std::string(path.substr(0, at + 15));
      if (!dir.starts_with("/usr/lib/python3") && !dir.starts_with("/usr/local/lib/python3"))
        continue;
      if (std::find(n.python_dirs.begin(), n.python_dirs.end(), dir) != n.python_dirs.end())
        continue;
      n.python_dirs.push_back(dir);
      n.copy_paths.push_back(dir);
      n.why.push_back("the app's layers installed Python packages in " + dir);
    }
  n.ca_certificates = summary.ca_certificates;
  n.tzdata = summary.tzdata;
  if (n.ca_certificates) n.why.push_back("the image has CA certificates");
  if (n.tzdata) n.why.push_back("the image has time zone data");
  std::sort(n.copy_paths.begin(), n.copy_paths.end());
  return n;
}

json to_json(const AppNeeds& n) {
  json j = {{"entrypoint", n.entry},
            {"shell", n.shell},
            {"libc", n.glibc           ? "glibc"
                     : n.musl          ? "musl"
                     : n.static_binary ? "static"
                                       : "unknown"},
            {"runtime", n.runtime},
            {"ca_certificates", n.ca_certificates},
            {"tzdata", n.tzdata},
            {"app_paths", n.copy_paths},
            {"why", n.why}};
  if (n.bash) j["bash"] = true;
  if (!n.base_programs.empty()) {
    json p = json::array();
    for (auto& x : n.base_programs) p.push_back("/" + x);
    j["programs_from_base"] = std::move(p);
  }
  return j;
}

}  // namespace bw
