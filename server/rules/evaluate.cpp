#include "common/embedded.h"
#include "common/text.h"
#include "common/time_util.h"
#include "reference/reference.h"
#include "rules/rules.h"

#include <re2/re2.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <set>
#include <tuple>

namespace bw {

using nlohmann::json;

namespace {

std::string base_name(std::string_view p) {
  return std::string(path_base_name(p));
}

bool numeric(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), ::isdigit);
}

// YYYY-MM-DD with a month and day in range.
bool is_date(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  if (!numeric(s.substr(0, 4)) || !numeric(s.substr(5, 2)) || !numeric(s.substr(8, 2)))
    return false;
  int month = std::stoi(std::string(s.substr(5, 2))), day = std::stoi(std::string(s.substr(8, 2)));
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

// A suppression's image scope as scans name images: "alpine" is "docker.io/library/alpine"
// (every tag), "alpine:3.19" one tag, "…@sha256:…" one digest whatever the tag; a prefix
// ending in '/' is kept as written.
Result<std::string> normalize_suppression_image(std::string_view text) {
  if (text.empty() || text.back() == '/') return std::string(text);
  auto ref = parse_reference(text);
  if (!ref) return ref.error();
  std::string repo = ref->registry + "/" + ref->repository;
  if (!ref->digest.empty()) return repo + "@" + ref->digest;
  auto last = text.substr(text.rfind('/') == std::string_view::npos ? 0 : text.rfind('/'));
  return last.find(':') != std::string_view::npos ? ref->canonical() : repo;
}

// The program a command runs, past sudo/env and leading assignments; `rest` gets its arguments.
std::string program_of(const ShellCommand& c, std::vector<std::string>* rest = nullptr,
                       bool* via_sudo = nullptr) {
  std::size_t i = 0;
  while (i < c.argv.size()) {
    const std::string& w = c.argv[i];
    std::string b = base_name(w);
    if (w.find('=') != std::string::npos && w.front() != '-' && w.find('=') > 0 && b == w) {
      ++i;
      continue;
    }
    if (b == "sudo" || b == "env" || b == "exec" || b == "nohup") {
      if (b == "sudo" && via_sudo) *via_sudo = true;
      ++i;
      while (i < c.argv.size() && c.argv[i].starts_with("-")) ++i;
      continue;
    }
    break;
  }
  if (i >= c.argv.size()) return {};
  if (rest) rest->assign(c.argv.begin() + static_cast<std::ptrdiff_t>(i) + 1, c.argv.end());
  return base_name(c.argv[i]);
}

bool has_arg(const std::vector<std::string>& args, std::initializer_list<std::string_view> any) {
  return std::any_of(args.begin(), args.end(), [&](const std::string& a) {
    return std::any_of(any.begin(), any.end(), [&](std::string_view x) { return a == x; });
  });
}

bool is_apt(const std::string& p) {
  return p == "apt-get" || p == "apt";
}
bool is_shell_program(const std::string& p) {
  static const std::set<std::string> k = {"sh",     "bash",    "dash", "ash",  "zsh", "ksh",
                                          "python", "python3", "perl", "ruby", "node"};
  return k.count(p) > 0;
}
bool is_fetcher(const std::string& p) {
  return p == "curl" || p == "wget";
}

const std::set<std::string> kInstallVerbs = {"install", "add", "reinstall"};

// Package arguments of an install command (apt-get install x y, apk add x, yum install x).
std::vector<std::string> install_targets(const std::string& prog,
                                         const std::vector<std::string>& args) {
  std::vector<std::string> out;
  bool after_verb = false;
  if (!(is_apt(prog) || prog == "apk" || prog == "yum" || prog == "dnf" || prog == "microdnf" ||
        prog == "zypper" || prog == "pip" || prog == "pip3"))
    return out;
  for (auto& a : args) {
    if (!after_verb) {
      if (kInstallVerbs.count(a)) after_verb = true;
      continue;
    }
    if (a.starts_with("-") || a.find('/') != std::string::npos ||
        a.find('$') != std::string::npos || a.empty())
      continue;
    out.push_back(a);
  }
  return out;
}

// Marks `f` suppressed when a suppression in force covers it; one that only an expired
// suppression covers stays counted and names the expiry.
void suppress(Finding& f, const std::vector<Suppression>& suppressions,
              const std::vector<std::string>& image_names,
              std::chrono::system_clock::time_point now) {
  for (auto& s : suppressions) {
    if (s.rule_id != f.rule_id) continue;
    if (!s.path.empty()) {
      bool prefix = s.path.back() == '/' &&
                    f.evidence.path.starts_with(s.path.substr(s.path.front() == '/' ? 1 : 0));
      std::string p = s.path.front() == '/' ? s.path.substr(1) : s.path;
      if (!prefix && p != f.evidence.path) continue;
    }
    if (!s.env_key.empty() && s.env_key != f.evidence.config_key) continue;
    if (!suppression_covers_image(s, image_names)) continue;
    if (suppression_expired(s, now)) {
      if (!f.suppressed) f.suppression_expired = s.expires;
      continue;
    }
    f.suppressed = true;
    f.suppression_expired.clear();
    if (f.suppression_reason.empty()) f.suppression_reason = s.reason;
  }
}

class Evaluator {
 public:
  Evaluator(const RuleCatalog& c, const RuleInput& in)
      : catalog_(c), in_(in), steps_(parse_history(in.config)) {
    for (std::size_t i = 0; i < in.layer_digests.size(); ++i) index_[in.layer_digests[i]] = i;
  }

  std::vector<Finding> run() {
    integrity();
    identity();
    attack_surface();
    secrets();
    history();
    configuration();
    binaries();
    build_leftovers();
    runtime_eol();
    return std::move(out_);
  }

 private:
  void add(const std::string& id, Evidence ev, const std::string& layer_digest, int weight = -1) {
    const RuleDef* d = catalog_.find(id);
    if (!d) return;  // a catalog without the rule has it switched off
    auto it = index_.find(layer_digest);
    const Origin origin =
        it != index_.end() && it->second < in_.base_layers ? Origin::base : Origin::app;
    Finding f;
    f.rule_id = id;
    f.origin = origin;
    f.evidence.path = clip(ev.path, kMaxEvidenceText);
    f.evidence.config_key = clip(ev.config_key, kMaxEvidenceText);
    if (in_.suppressions) suppress(f, *in_.suppressions, in_.image_names, in_.now);
    auto& group = groups_[{id, origin, f.suppressed}];
    if (group.kept == kMaxFindingsPerRule) {
      ++out_[group.last].more;
      return;
    }
    f.title = d->title;
    f.category = d->category;
    f.severity = d->severity;
    f.evidence.history_index = ev.history_index;
    f.evidence.created_by = clip(ev.created_by, kMaxEvidenceText);
    f.evidence.detail = clip(ev.detail, kMaxEvidenceText);
    f.layer_digest = layer_digest;
    f.weight = weight;
    out_.push_back(std::move(f));
    ++group.kept;
    group.last = out_.size() - 1;
  }

  // The last history step of an instruction (USER, EXPOSE), or null.
  const HistoryStep* last_step(std::string_view instruction) const {
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it)
      if (it->instruction == instruction) return &*it;
    return nullptr;
  }

  std::string layer_of_step(const HistoryStep& s) const {
    if (s.layer_index >= 0 && static_cast<std::size_t>(s.layer_index) < in_.layer_digests.size())
      return in_.layer_digests[static_cast<std::size_t>(s.layer_index)];
    return {};
  }

  const json& cfg() const {
    static const json empty = json::object();
    auto it = in_.config.find("config");
    return it != in_.config.end() && it->is_object() ? *it : empty;
  }

  // One finding per introducing layer for a list of files.
  void grouped(const std::string& id, const std::vector<FileRef>& files, const std::string& what) {
    std::map<std::string, std::vector<std::string>> by_layer;
    for (auto& f : files) by_layer[f.layer_digest].push_back(f.path);
    for (auto& [layer, paths] : by_layer) {
      std::string detail = what + ": ";
      for (std::size_t i = 0; i < paths.size() && i < 12; ++i)
        detail += (i ? ", /" : "/") + paths[i];
      if (paths.size() > 12) detail += " and " + std::to_string(paths.size() - 12) + " more";
      add(id, Evidence{paths.front(), -1, "", "", detail}, layer);
    }
  }

  // A layer that could not be read to its end counts against the image: facts from it are
  // partial, and an attacker could otherwise hide anything behind an unreadable layer.
  void integrity() {
    for (auto& l : in_.summary.unanalysed_layers)
      add("BW-LAYER-UNANALYSED", Evidence{"", -1, "", "", "layer " + l.status + ": " + l.reason},
          l.layer_digest);
  }

  void identity() {
    const auto& accounts = in_.summary.accounts;
    std::string user = cfg().value("User", "");
    std::string uid = user.substr(0, user.find(':'));
    if (user_is_root(user, accounts)) {
      Evidence ev{"", -1, "", "config.User",
                  user.empty() ? "no USER: runs as root" : "USER " + user + " is root"};
      // The step that set it, when the history has one.
      if (const HistoryStep* s = last_step("USER")) {
        ev.history_index = s->index;
        ev.created_by = masked(s->created_by);
      }
      add("BW-USER-ROOT", ev, "");
    } else if (!uid.empty() && !numeric(uid)) {
      add("BW-USER-NONNUMERIC", Evidence{"", -1, "", "config.User", "USER " + user + " is a name"},
          "");
      bool known = std::any_of(accounts.begin(), accounts.end(),
                               [&](const Account& a) { return a.name == uid; });
      if (!known)
        add("BW-USER-UNKNOWN",
            Evidence{"etc/passwd", -1, "", "config.User", "user " + uid + " is not in /etc/passwd"},
            "");
    }
    auto layer_of_file = [&](const std::string& file) {
      auto it = in_.summary.account_files.find(file);
      return it == in_.summary.account_files.end() ? std::string() : it->second;
    };
    for (auto& p : in_.summary.passwords)
      if (p.name == "root" && p.password == PasswordState::set)
        add("BW-ROOT-PASSWORD",
            Evidence{"etc/shadow", -1, "", "", "root has a password hash in /etc/shadow"},
            layer_of_file("etc/shadow"));
    for (auto& p : in_.summary.passwords)
      if (p.password == PasswordState::empty)
        add("BW-PASSWD-EMPTY",
            Evidence{"etc/shadow", -1, "", "", "account " + p.name + " has an empty password"},
            layer_of_file("etc/shadow"));
    auto dup = [&](const std::map<std::string, std::vector<std::string>>& ids, const char* file,
                   const char* field) {
      for (auto& [id, names] : ids)
        if (names.size() > 1 && !id.empty()) {
          std::string detail = std::string(field) + " " + id + " shared by";
          for (auto& n : names) detail += " " + n;
          add("BW-PASSWD-DUPID", Evidence{file, -1, "", "", detail}, layer_of_file(file));
        }
    };
    std::map<std::string, std::vector<std::string>> uids, gids;
    for (auto& a : accounts) uids[a.uid].push_back(a.name);
    for (auto& g : in_.summary.groups) gids[g.gid].push_back(g.name);
    dup(uids, "etc/passwd", "uid");
    dup(gids, "etc/group", "gid");
    std::vector<std::string> login;
    for (auto& a : accounts) {
      const std::string &shell = a.shell, &name = a.name;
      std::string b = base_name(shell);
      if (name == "root" || shell.empty() || b == "nologin" || b == "false" || b == "sync" ||
          b == "halt" || b == "shutdown")
        continue;
      login.push_back(name + " (" + shell + ")");
    }
    if (!login.empty()) {
      std::string detail = "login shells:";
      for (auto& l : login) detail += " " + l;
      add("BW-LOGIN-SHELL", Evidence{"etc/passwd", -1, "", "", detail},
          layer_of_file("etc/passwd"));
    }
  }

  void attack_surface() {
    const AttackSurface& s = in_.summary.attack_surface;
    if (!s.shell.empty()) grouped("BW-SHELL", s.shell, "shells");
    if (!s.package_manager.empty()) grouped("BW-PKGMGR", s.package_manager, "package managers");
    if (!s.network_tool.empty()) grouped("BW-NETTOOLS", s.network_tool, "network tools");
    if (!s.toolchain.empty()) grouped("BW-TOOLCHAIN", s.toolchain, "build tools");
    if (!s.debug_tool.empty()) grouped("BW-DEBUGTOOLS", s.debug_tool, "debug tools");
    if (!s.sshd.empty()) grouped("BW-SSHD", s.sshd, "SSH server");
    if (!s.sudo.empty()) grouped("BW-SUDO", s.sudo, "sudo installed");
    std::size_t count = in_.summary.packages.size();
    if (count > 25) {
      // One finding for the base's packages and one for those the app layers add, each weighted
      // by its own count: a switch of base removes the first, the Dockerfile the second.
      const RuleDef* d = catalog_.find("BW-PKGCOUNT");
      auto weight = [&](std::size_t n) {
        int w = d ? d->weight : 0;
        return n > 25 ? std::min(10, w + static_cast<int>((n - 25) / 25)) : w;
      };
      std::map<bool, std::vector<const InstalledPackage*>> by_origin;  // true: base
      for (auto& p : in_.summary.packages) {
        auto it = index_.find(p.layer_digest);
        by_origin[it != index_.end() && it->second < in_.base_layers].push_back(&p);
      }
      for (auto& [base, list] : by_origin)
        add("BW-PKGCOUNT",
            Evidence{list.front()->db, -1, "", "",
                     std::to_string(list.size()) + " of " + std::to_string(count) +
                         " OS packages from the " + (base ? "base" : "app") + " layers"},
            list.front()->layer_digest, weight(list.size()));
    }
    for (auto& f : in_.summary.setuid_files) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", f.file.mode & 07777u);
      std::string bits = std::string(f.setuid ? "setuid" : "") +
                         (f.setgid ? (f.setuid ? "+setgid" : "setgid") : "");
      add("BW-SUID",
          Evidence{f.file.path, -1, "", "",
                   bits + " " + mode + " uid " + std::to_string(f.file.uid) + " gid " +
                       std::to_string(f.file.gid)},
          f.file.layer_digest);
    }
    for (auto& f : in_.summary.capability_files) {
      std::uint64_t all = f.caps.permitted | f.caps.inheritable;
      std::string names = join(cap_names(all), ",");
      std::string detail = names + (f.caps.effective ? "+ep" : "+p");
      bool privileged = (all & privileged_caps()) != 0;
      add(privileged ? "BW-FILE-CAPS-PRIV" : "BW-FILE-CAPS",
          Evidence{f.file.path, -1, "", "", detail}, f.file.layer_digest);
    }
    // sshd keeps the first value it reads for a keyword; the summary lists files in that order.
    std::map<std::string, const SshdConfigFile*> set_by;
    std::map<std::string, std::string> value;
    for (auto& f : in_.summary.sshd_configs)
      for (auto& [k, v] : f.settings)
        if (value.emplace(k, v).second) set_by[k] = &f;
    for (const char* k : {"permitrootlogin", "passwordauthentication", "permitemptypasswords"})
      if (auto it = value.find(k); it != value.end() && it->second == "yes") {
        static const std::map<std::string, std::string> names = {
            {"permitrootlogin", "PermitRootLogin"},
            {"passwordauthentication", "PasswordAuthentication"},
            {"permitemptypasswords", "PermitEmptyPasswords"}};
        add("BW-SSHD-CONFIG", Evidence{set_by[k]->file.path, -1, "", "", names.at(k) + " yes"},
            set_by[k]->file.layer_digest);
      }
    // Root's keys with an SSH server that lets root in by key (PermitRootLogin's default,
    // prohibit-password, does) is a root login for whoever holds the private key.
    auto root_login = value.find("permitrootlogin");
    const bool root_by_key = !in_.summary.attack_surface.sshd.empty() &&
                             (root_login == value.end() || root_login->second != "no");
    for (auto& f : in_.summary.authorized_keys) {
      const bool roots = f.path.starts_with("root/");
      std::string detail = roots ? "keys that log in as root" : "keys that log in to the image";
      if (roots && root_by_key)
        detail += "; sshd lets root in by key (PermitRootLogin " +
                  (root_login == value.end() ? std::string("prohibit-password, the default")
                                             : root_login->second) +
                  ")";
      add("BW-SSH-AUTHORIZED-KEYS", Evidence{f.path, -1, "", "", detail}, f.layer_digest);
    }
    if (!in_.summary.world_writable.empty())
      grouped("BW-WORLDWRITABLE", in_.summary.world_writable, "world-writable");
    if (!in_.summary.unneeded_files.empty())
      grouped("BW-UNNEEDED-FILES", in_.summary.unneeded_files, "unneeded files");
  }

  void secrets() {
    for (auto& f : in_.summary.credential_files)
      add("BW-SECRET-FILE", Evidence{f.path, -1, "", "", "credential file"}, f.layer_digest);
    auto content = [&](const std::vector<SecretFile>& entries, bool deleted) {
      for (auto& e : entries) {
        if (deleted && e.credential_file && e.findings.empty())
          add("BW-SECRET-FILE",
              Evidence{e.path, -1, "", "",
                       "credential file deleted by a later layer but still in this layer's blob"},
              e.layer_digest);
        for (auto& s : e.findings)
          add("BW-SECRET-CONTENT",
              Evidence{
                  e.path, -1, "", "",
                  s.title + " at line " + std::to_string(s.start_line) + ": " + masked_match(s) +
                      (deleted ? " (deleted by a later layer, still in this layer's blob)" : "")},
              e.layer_digest);
      }
    };
    content(in_.summary.secrets, false);
    content(in_.summary.deleted_secrets, true);
    // Env and build args: NAME=VALUE with a secret-looking name and a value.
    auto check = [&](const std::string& assignment, Evidence ev, const std::string& layer) {
      auto eq = assignment.find('=');
      if (eq == std::string::npos || eq == 0) return;
      std::string name = assignment.substr(0, eq), value = assignment.substr(eq + 1);
      if (value.empty() || !is_secret_name(name)) return;
      ev.detail = name + "=" + std::string(kSecretMask);
      ev.config_key = ev.config_key.empty() ? name : ev.config_key;
      add("BW-SECRET-ENV", ev, layer);
    };
    for (auto& e : cfg().value("Env", json::array())) {
      if (!e.is_string()) continue;
      const std::string& kv = e.get_ref<const std::string&>();
      // Keyed by the variable's name, as an env_key suppression names it.
      check(kv, Evidence{"", -1, "", "", ""}, "");
      // Any other name whose value carries a secret (DB_URL=postgres://admin:…@db/x).
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0 || is_secret_name(kv.substr(0, eq))) continue;
      auto found = find_inline_secrets(std::string_view(kv).substr(eq + 1));
      if (!found.empty())
        add("BW-SECRET-ENV",
            Evidence{"", -1, "", kv.substr(0, eq),
                     kv.substr(0, eq) + ": " + found.front().kind + " (value masked)"},
            "");
    }
    // Labels, ENTRYPOINT, CMD and the health check: stored and shown as they are written.
    // A hostile config may put anything anywhere: only objects and lists are read.
    json labels = cfg().value("Labels", json::object());
    if (!labels.is_object()) labels = json::object();
    for (auto& [key, value] : labels.items()) {
      if (!value.is_string() || value.get_ref<const std::string&>().empty()) continue;
      auto found = find_inline_secrets(value.get_ref<const std::string&>());
      if (is_secret_label(key) || !found.empty())
        add("BW-SECRET-CONFIG",
            Evidence{"", -1, "", "config.Labels." + key,
                     "label " + key + ": " +
                         (found.empty() ? "a secret-looking name" : found.front().kind) +
                         " (value masked)"},
            "");
    }
    json health = cfg().value("Healthcheck", json::object());
    if (!health.is_object()) health = json::object();
    for (auto [key, args] : {std::pair{"Entrypoint", cfg().value("Entrypoint", json())},
                             std::pair{"Cmd", cfg().value("Cmd", json())},
                             std::pair{"Healthcheck.Test", health.value("Test", json())}}) {
      if (!args.is_array()) continue;
      for (auto& a : args) {
        if (!a.is_string()) continue;
        const std::string& arg = a.get_ref<const std::string&>();
        auto found = find_inline_secrets(arg);
        if (is_secret_option(arg) || !found.empty()) {
          add("BW-SECRET-CONFIG",
              Evidence{"", -1, "", std::string("config.") + key,
                       std::string(key) + ": " +
                           (found.empty() ? "a secret passed as " + arg.substr(0, arg.find('='))
                                          : found.front().kind) +
                           " (value masked)"},
              "");
          break;
        }
      }
    }
    for (auto& step : steps_) {
      Evidence ev{"", step.index, masked(step.created_by), "", ""};
      for (auto& a : step.build_args) check(a, ev, layer_of_step(step));
      std::vector<ShellCommand> words =
          step.instruction == "RUN" ? step.commands : split_shell(step.text);
      if (step.instruction == "ENV" || step.instruction == "ARG" || step.instruction == "RUN")
        for (auto& c : words)
          for (auto& w : c.argv) check(w, ev, layer_of_step(step));
      // Passwords and tokens written into the command itself.
      if (step.instruction == "RUN") {
        std::set<std::string> kinds;
        for (auto& x : find_inline_secrets(step.created_by)) kinds.insert(x.kind);
        for (auto& kind : kinds) {
          Evidence e2 = ev;
          e2.detail = kind + " in the build step (value masked)";
          add("BW-SECRET-BUILD", e2, layer_of_step(step));
        }
      }
    }
  }

  static std::string masked(const std::string& text) { return mask_secret_assignments(text); }

  void history() {
    bool first_add = true;
    for (auto& s : steps_) {
      Evidence ev{"", s.index, masked(s.created_by), "", ""};
      std::string layer = layer_of_step(s);
      if (s.instruction == "ADD") {
        bool remote = s.text.find("http://") != std::string::npos ||
                      s.text.find("https://") != std::string::npos;
        if (remote) add("BW-ADD-REMOTE", ev, layer);
        // The first ADD is the base's root filesystem (as Dockle exempts it).
        else if (!first_add)
          add("BW-ADD-LOCAL", ev, layer);
        first_add = false;
        continue;
      }
      if (s.instruction != "RUN") continue;
      const auto& cmds = s.commands;
      bool update_pending = false, apk_update_pending = false, apt_used = false,
           apt_cleaned = false;
      bool yum_used = false, yum_cleaned = false, apk_cached = false, apk_cache_removed = false;
      bool pipe_fired = false, no_verify = false, norec = false, upgrade = false, chmod = false,
           sudo = false, unpinned = false;
      std::string unpinned_list;
      for (std::size_t i = 0; i < cmds.size(); ++i) {
        std::vector<std::string> args;
        bool via_sudo = false;
        std::string prog = program_of(cmds[i], &args, &via_sudo);
        sudo |= via_sudo;
        // curl … | sh, and sh -c "$(curl …)" / bash <(curl …)
        if (!pipe_fired && is_fetcher(prog)) {
          for (std::size_t j = i + 1; j < cmds.size() && cmds[j].piped; ++j)
            if (is_shell_program(program_of(cmds[j]))) {
              pipe_fired = true;
              break;
            }
        }
        if (!pipe_fired && is_shell_program(prog))
          for (auto& a : args)
            if (a.find("$(curl") != std::string::npos || a.find("$(wget") != std::string::npos ||
                a.find("<(curl") != std::string::npos || a.find("<(wget") != std::string::npos ||
                a.find("`curl") != std::string::npos)
              pipe_fired = true;
        if (has_arg(args,
                    {"--allow-unauthenticated", "--allow-insecure-repositories", "--nogpgcheck",
                     "--no-gpg-check", "--no-check-certificate", "--trusted-host",
                     "--allow-untrusted", "--disable-pip-version-check=false"}) ||
            (prog == "curl" && has_arg(args, {"-k", "--insecure"})) ||
            (prog == "npm" && has_arg(args, {"strict-ssl"}) && has_arg(args, {"false"})) ||
            (prog == "git" &&
             std::any_of(args.begin(), args.end(),
                         [](auto& a) { return to_lower(a) == "http.sslverify"; }) &&
             has_arg(args, {"false"})))
          no_verify = true;
        if (is_apt(prog)) {
          bool upd = has_arg(args, {"update"});
          bool inst = has_arg(args, {"install", "upgrade", "dist-upgrade", "full-upgrade"});
          if (upd) update_pending = true;
          if (inst) update_pending = false;
          if (upd || has_arg(args, {"install"})) apt_used = true;
          if (has_arg(args, {"dist-clean", "distclean"})) apt_cleaned = true;
          if (has_arg(args, {"install"}) && !has_arg(args, {"--no-install-recommends"}) &&
              !std::any_of(args.begin(), args.end(), [](auto& a) {
                return a.find("Install-Recommends=false") != std::string::npos;
              }))
            norec = true;
          if (has_arg(args, {"dist-upgrade", "full-upgrade", "upgrade"})) upgrade = true;
        }
        if (prog == "apk") {
          if (has_arg(args, {"update"})) apk_update_pending = true;
          if (has_arg(args, {"add", "upgrade"})) apk_update_pending = false;
          if (has_arg(args, {"add"}) && !has_arg(args, {"--no-cache"})) apk_cached = true;
          if (has_arg(args, {"upgrade"})) upgrade = true;
        }
        if (prog == "yum" || prog == "dnf" || prog == "microdnf" || prog == "zypper") {
          if (has_arg(args, {"install", "update", "upgrade"})) yum_used = true;
          if (has_arg(args, {"clean"})) yum_cleaned = true;
        }
        if (prog == "rm")
          for (auto& a : args) {
            if (a.starts_with("/var/lib/apt/lists")) apt_cleaned = true;
            if (a.starts_with("/var/cache/apk")) apk_cache_removed = true;
          }
        if (prog == "chmod")
          for (auto& a : args)
            if (a == "777" || a == "0777" || a == "666" || a == "0666" ||
                a.find("a+w") != std::string::npos || a.find("o+w") != std::string::npos ||
                a == "+w")
              chmod = true;
        if (prog == "sudo") sudo = true;
        auto targets = install_targets(prog, args);
        if (std::find(targets.begin(), targets.end(), "sudo") != targets.end()) sudo = true;
        for (auto& t : targets) {
          bool pinned = t.find('=') != std::string::npos || t.find('<') != std::string::npos ||
                        t.find('>') != std::string::npos || t.find('@') != std::string::npos;
          if (!pinned && prog != "microdnf") {
            unpinned = true;
            if (unpinned_list.size() < 120) unpinned_list += (unpinned_list.empty() ? "" : " ") + t;
          }
        }
      }
      if (pipe_fired) add("BW-PIPE-SHELL", ev, layer);
      // A pipeline under /bin/sh -c fails only when its last command does.
      bool piped = std::any_of(cmds.begin(), cmds.end(), [](auto& c) { return c.piped; });
      if (piped && s.created_by.find("pipefail") == std::string::npos &&
          s.created_by.find("/bin/bash -o") == std::string::npos) {
        Evidence e2 = ev;
        e2.detail = "a pipe under /bin/sh -c without set -o pipefail";
        add("BW-PIPEFAIL", e2, layer);
      }
      if (no_verify) add("BW-NO-VERIFY", ev, layer);
      if (update_pending || apk_update_pending) add("BW-UPDATE-ALONE", ev, layer);
      if ((apt_used && !apt_cleaned) || (apk_cached && !apk_cache_removed) ||
          (yum_used && !yum_cleaned))
        add("BW-PKG-CACHE", ev, layer);
      if (norec) add("BW-NO-RECOMMENDS", ev, layer);
      if (upgrade) add("BW-DIST-UPGRADE", ev, layer);
      if (sudo) add("BW-SUDO", ev, layer);
      if (chmod) add("BW-CHMOD-777", ev, layer);
      if (unpinned) {
        Evidence e2 = ev;
        e2.detail = "unpinned: " + unpinned_list;
        add("BW-UNPINNED", e2, layer);
      }
    }
  }

  void configuration() {
    const json& c = cfg();
    auto hc = c.find("Healthcheck");
    bool none = hc == c.end() || hc->is_null() ||
                (hc->contains("Test") && (*hc)["Test"].is_array() && !(*hc)["Test"].empty() &&
                 (*hc)["Test"][0] == "NONE");
    if (none)
      add("BW-HEALTHCHECK", Evidence{"", -1, "", "config.Healthcheck", "no HEALTHCHECK"}, "");
    if (auto ports = c.find("ExposedPorts"); ports != c.end() && ports->is_object())
      for (auto& [k, v] : ports->items()) {
        std::string port = k.substr(0, k.find('/'));
        if (port == "22" || port == "23" || port == "2375" || port == "2376" || port == "3389" ||
            port == "5900") {
          Evidence ev{"", -1, "", "config.ExposedPorts", "exposes " + k};
          for (auto it = steps_.rbegin(); it != steps_.rend(); ++it)
            if (it->instruction == "EXPOSE" && it->text.find(port) != std::string::npos) {
              ev.history_index = it->index;
              ev.created_by = masked(it->created_by);
              break;
            }
          add("BW-PORT-SENSITIVE", ev, "");
        }
      }
    if (auto vols = c.find("Volumes"); vols != c.end() && vols->is_object())
      for (auto& [k, v] : vols->items()) {
        std::string p = k.size() > 1 && k.back() == '/' ? k.substr(0, k.size() - 1) : k;
        if (p == "/dev" || p == "/proc" || p == "/sys" || p == "/var/run/docker.sock" ||
            p == "/run/docker.sock")
          add("BW-VOLUME-SENSITIVE", Evidence{"", -1, "", "config.Volumes", "VOLUME " + k}, "");
      }
    if (in_.tag == "latest")
      add("BW-LATEST-TAG", Evidence{"", -1, "", "", "scanned by the latest tag"}, "");
    eol();
    std::string created = in_.config.value("created", "");
    std::tm tm{};
    if (created.size() >= 10 && strptime(created.substr(0, 19).c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) {
      // In seconds: the clock's nanoseconds overflow past the year 2262, and a config may name
      // any year it likes.
      auto now_s = std::chrono::duration_cast<std::chrono::seconds>(in_.now.time_since_epoch());
      long long days = (now_s.count() - static_cast<long long>(timegm(&tm))) / 86'400;
      // Reproducible builds stamp the epoch (or nothing): unknown, not old. The future is no
      // age either.
      if (tm.tm_year > 80 && tm.tm_year < 8'000 && days > in_.max_image_age_days)
        add("BW-IMAGE-AGE",
            Evidence{"", -1, "", "created",
                     "built " + std::to_string(days) + " days ago (" + created.substr(0, 10) + ")"},
            "");
    }
  }

  bool app_layer(const std::string& digest) const {
    auto it = index_.find(digest);
    return it == index_.end() || it->second >= in_.base_layers;
  }

  // What builds leave in the final stage: dev dependencies, package caches, headers, Go build
  // paths.
  void build_leftovers() {
    std::map<std::pair<std::string, std::string>, std::vector<std::string>> dev_by_layer;
    for (auto& p : in_.summary.app_packages)
      if (p.dev)
        dev_by_layer[{p.layer_digest, p.package.ecosystem}].push_back(p.package.name + "@" +
                                                                      p.package.version);
    for (auto& [where, names] : dev_by_layer) {
      const auto& [layer, ecosystem] = where;
      std::string detail = std::to_string(names.size()) + " " + ecosystem + " dev dependencies: ";
      for (std::size_t i = 0; i < names.size() && i < 12; ++i) detail += (i ? ", " : "") + names[i];
      if (names.size() > 12) detail += " and " + std::to_string(names.size() - 12) + " more";
      add("BW-DEV-DEPS", Evidence{"", -1, "", "", detail}, layer);
    }
    if (!in_.summary.package_caches.empty())
      grouped("BW-PKG-CACHE", in_.summary.package_caches, "package caches");
    std::map<std::string, std::vector<std::string>> headers_by_layer;
    for (auto& p : in_.summary.packages) {
      const std::string& n = p.package.name;
      if (n.ends_with("-dev") || (p.package.manager == "rpm" && n.ends_with("-devel")))
        headers_by_layer[p.layer_digest].push_back(n);
    }
    for (auto& [layer, names] : headers_by_layer) {
      std::string detail = "development packages: " + join(names, ", ");
      add("BW-DEV-PACKAGES", Evidence{"", -1, "", "", clip(detail, 400)}, layer);
    }
    // The app's Go binaries: its own build, which the Dockerfile controls. A dynamic one needs
    // the C library its loader belongs to in the image.
    for (auto& x : in_.summary.executables) {
      const auto& s = x.elf.go_settings;
      if (x.elf.go.empty() || s.empty() || !app_layer(x.file.layer_digest)) continue;
      std::vector<std::string> why;
      if (auto t = s.find("-trimpath"); t == s.end() || t->second != "true")
        why.push_back("built without -trimpath: the build machine's paths are in the binary");
      if (auto c = s.find("CGO_ENABLED"); c != s.end() && c->second == "1" && x.elf.is_static)
        why.push_back(
            "CGO_ENABLED=1 linked statically: libc is baked in, and glibc's static NSS and "
            "locale code still looks for the shared libraries at run time");
      if (auto c = s.find("CGO_ENABLED"); c != s.end() && c->second == "1" &&
                                          !x.elf.interpreter.empty() &&
                                          (x.elf.libc == Libc::glibc || x.elf.libc == Libc::musl) &&
                                          !has_libc(in_.summary, x.elf.libc))
        why.push_back("CGO_ENABLED=1 linked dynamically against " + x.elf.interpreter +
                      ", which the image does not have: it cannot start");
      if (!why.empty())
        add("BW-GO-BUILD", Evidence{x.file.path, -1, "", "", join(why, "; ")}, x.file.layer_digest);
    }
  }

  bool past(const std::string& date) const {
    std::tm tm{};
    return !date.empty() && strptime(date.c_str(), "%Y-%m-%d", &tm) &&
           std::chrono::system_clock::from_time_t(timegm(&tm)) < in_.now;
  }

  static const json& eol_tables() {
    static const json tables = json::parse(schema_files::get("os_eol.json"));
    return tables;
  }

  // A language runtime installed outside the OS's packages (whose support BW-OS-EOL covers),
  // past its upstream end of life.
  void runtime_eol() {
    const json& table = eol_tables().value("runtimes", json::object());
    std::set<std::string> reported;
    // `ev` names where the version was read: a file, or a config key.
    auto check = [&](const std::string& runtime, const std::string& version, Evidence ev,
                     const std::string& layer) {
      if (!table.contains(runtime) || version.empty()) return;
      std::string best, date;
      for (auto& [ver, d] : table[runtime].items())
        if ((version == ver || version.starts_with(ver + ".")) && ver.size() > best.size()) {
          best = ver;
          date = d;
        }
      if (!past(date) || !reported.insert(runtime + " " + best).second) return;
      ev.detail = runtime + " " + best + " reached end of life on " + date + " (" + ev.detail + ")";
      add("BW-RUNTIME-EOL", ev, layer);
    };
    // Official images name the runtime's version in their environment.
    static const std::map<std::string, std::string> kEnv = {{"PYTHON_VERSION", "python"},
                                                            {"NODE_VERSION", "node"},
                                                            {"GOLANG_VERSION", "go"},
                                                            {"JAVA_VERSION", "java"}};
    for (auto& e : cfg().value("Env", json::array())) {
      if (!e.is_string()) continue;
      const std::string& kv = e.get_ref<const std::string&>();
      auto eq = kv.find('=');
      auto it = kEnv.find(kv.substr(0, eq == std::string::npos ? 0 : eq));
      if (it == kEnv.end()) continue;
      std::string v = kv.substr(eq + 1);
      // Temurin writes jdk-17.0.9+9 and jdk8u392-b08; Node.js v20.11.1 in some images.
      std::size_t digit = v.find_first_of("0123456789");
      if (digit == std::string::npos) continue;
      v = v.substr(digit);
      if (it->second == "java") v = v.substr(0, v.find_first_not_of("0123456789"));
      check(it->second, v, Evidence{"", -1, "", kv.substr(0, eq), kv}, "");
    }
    for (auto& x : in_.summary.executables) {
      if (!app_layer(x.file.layer_digest) && !x.file.path.starts_with("usr/local/")) continue;
      std::string_view base = path_base_name(x.file.path);
      if (x.elf.go.starts_with("go1."))
        check("go", x.elf.go.substr(2),
              Evidence{x.file.path, -1, "", "", "/" + x.file.path + " built with " + x.elf.go},
              x.file.layer_digest);
      else if (base.starts_with("python3.") && !x.file.path.starts_with("usr/bin/"))
        check("python", std::string(base.substr(6)),
              Evidence{x.file.path, -1, "", "", "/" + x.file.path}, x.file.layer_digest);
    }
    // Node.js or a JDK unpacked from upstream's archive says its release in its own files.
    for (auto& p : in_.summary.app_packages) {
      if (p.package.ecosystem != "generic" ||
          (!app_layer(p.layer_digest) && !p.path.starts_with("usr/local/") &&
           !p.path.starts_with("opt/")))
        continue;
      std::string v = p.package.version;
      // JAVA_VERSION is "1.8.0_392" for Java 8, "17.0.9" since.
      if (p.package.name == "java")
        v = v.starts_with("1.") ? v.substr(2, v.find_first_not_of("0123456789", 2) - 2)
                                : v.substr(0, v.find_first_not_of("0123456789"));
      check(p.package.name, v,
            Evidence{p.path, -1, "", "", "/" + p.path + " says " + p.package.version},
            p.layer_digest);
    }
  }

  void eol() {
    if (!in_.summary.os) return;
    const json& tables = eol_tables();
    const std::string &family = in_.summary.os->family, &name = in_.summary.os->name;
    // The date for the longest version prefix of `name` in one table; empty when none.
    auto date_in = [&](const char* table) -> std::string {
      const json& t = tables.value(table, json::object());
      if (!t.contains(family)) return {};
      std::string best, date;
      for (auto& [ver, d] : t[family].items())
        if ((name == ver || name.starts_with(ver + ".")) && ver.size() > best.size()) {
          best = ver;
          date = d;
        }
      return date;
    };
    std::string eol = date_in("eol"), lts = date_in("lts");
    if (!past(eol)) return;
    std::string what = family + " " + name;
    if (!lts.empty() && !past(lts))
      add("BW-OS-LTS",
          Evidence{"", -1, "", "",
                   what + " left regular security support on " + eol +
                       "; long-term support runs to " + lts},
          in_.summary.os_layer_digest);
    else
      add("BW-OS-EOL",
          Evidence{"", -1, "", "", what + " reached end of life on " + (lts.empty() ? eol : lts)},
          in_.summary.os_layer_digest);
  }

  void binaries() {
    std::string entry;
    for (const char* k : {"Entrypoint", "Cmd"})
      if (auto e = cfg().find(k);
          e != cfg().end() && e->is_array() && !e->empty() && (*e)[0].is_string()) {
        entry = (*e)[0].get<std::string>();
        if (entry.starts_with("/")) entry.erase(0, 1);
        break;
      }
    for (auto& x : in_.summary.executables) {
      const std::string& layer = x.file.layer_digest;
      auto it = index_.find(layer);
      bool app = it == index_.end() || it->second >= in_.base_layers;
      if (!app && x.file.path != entry) continue;
      const ElfInfo& elf = x.elf;
      auto fire = [&](const std::string& id, const std::string& detail) {
        add(id, Evidence{x.file.path, -1, "", "", detail}, layer);
      };
      // Static or dynamic, code at a fixed address is the same gift to an exploit; RELRO guards
      // the dynamic loader's tables, which a static binary does not have.
      if (!elf.pie)
        fire("BW-ELF-NOPIE", elf.is_static ? "static, not position-independent (build with "
                                             "-static-pie, or go build -buildmode=pie)"
                                           : "not position-independent");
      if (!elf.is_static && elf.relro == Relro::none) fire("BW-ELF-NORELRO", "no RELRO");
      if (!elf.nx) fire("BW-ELF-EXECSTACK", "executable stack (PT_GNU_STACK has PF_X)");
      if (elf.canary == false && elf.go.empty()) fire("BW-ELF-NOCANARY", "no __stack_chk_fail");
    }
  }

  // The findings kept of one rule, origin and suppression state, and the last of them (which
  // counts the rest).
  struct Group {
    std::size_t kept = 0, last = 0;
  };

  const RuleCatalog& catalog_;
  const RuleInput& in_;
  std::vector<HistoryStep> steps_;
  std::map<std::string, std::size_t> index_;
  std::vector<Finding> out_;
  std::map<std::tuple<std::string, Origin, bool>, Group> groups_;
};

}  // namespace

bool user_is_root(std::string_view user, const std::vector<Account>& accounts) {
  std::string u(user.substr(0, user.find(':')));
  if (u.empty() || u == "root" || u == "0") return true;
  if (numeric(u)) return false;
  for (auto& a : accounts)
    if (a.name == u) return a.uid == "0";
  return false;
}

std::vector<Finding> evaluate_rules(const RuleCatalog& catalog, const RuleInput& input) {
  return Evaluator(catalog, input).run();
}

namespace {

bool covers_name(const Suppression& s, std::string_view image_ref) {
  if (s.image.back() == '/') return image_ref.starts_with(s.image);
  if (image_ref == s.image) return true;
  // A repository covers its tags and digests; a digest entry covers that digest under any tag.
  auto at = s.image.find('@');
  if (at != std::string::npos) {
    auto ref_at = image_ref.find('@');
    if (ref_at == std::string_view::npos || image_ref.substr(ref_at) != s.image.substr(at))
      return false;
    std::string_view repo = image_ref.substr(0, ref_at);
    auto colon = repo.rfind(':');
    if (colon != std::string_view::npos && repo.find('/', colon) == std::string_view::npos)
      repo = repo.substr(0, colon);
    return repo == std::string_view(s.image).substr(0, at);
  }
  return image_ref.size() > s.image.size() && image_ref.starts_with(s.image) &&
         (image_ref[s.image.size()] == ':' || image_ref[s.image.size()] == '@');
}

}  // namespace

bool suppression_covers_image(const Suppression& s, const std::vector<std::string>& image_names) {
  return s.image.empty() ||
         std::any_of(image_names.begin(), image_names.end(),
                     [&](const std::string& name) { return covers_name(s, name); });
}

bool suppression_expired(const Suppression& s, std::chrono::system_clock::time_point now) {
  // Dates compare as text: "YYYY-MM-DD" is the prefix of the RFC 3339 time.
  return !s.expires.empty() && format_rfc3339(now).substr(0, 10) > s.expires;
}

void apply_suppressions(std::vector<Finding>& findings,
                        const std::vector<Suppression>& suppressions,
                        const std::vector<std::string>& image_names,
                        std::chrono::system_clock::time_point now) {
  for (auto& f : findings) suppress(f, suppressions, image_names, now);
}

json to_json(const Finding& f) {
  json ev = json::object();
  if (!f.evidence.path.empty()) ev["path"] = f.evidence.path;
  if (f.evidence.history_index >= 0) ev["history_index"] = f.evidence.history_index;
  if (!f.evidence.created_by.empty()) ev["created_by"] = f.evidence.created_by;
  if (!f.evidence.config_key.empty()) ev["config_key"] = f.evidence.config_key;
  if (!f.evidence.detail.empty()) ev["detail"] = f.evidence.detail;
  json j{{"rule_id", f.rule_id},
         {"title", f.title},
         {"category", f.category},
         {"severity", severity_name(f.severity)},
         {"evidence", ev},
         {"layer_digest", f.layer_digest},
         {"origin", origin_name(f.origin)},
         {"suppressed", f.suppressed}};
  if (f.weight >= 0) j["weight"] = f.weight;
  if (f.more > 0) j["more"] = f.more;
  if (f.suppressed && !f.suppression_reason.empty()) j["suppression_reason"] = f.suppression_reason;
  if (!f.suppressed && !f.suppression_expired.empty())
    j["suppression_expired"] = f.suppression_expired;
  return j;
}

Finding finding_from_json(const json& j) {
  Finding f;
  f.rule_id = j.value("rule_id", "");
  f.title = j.value("title", "");
  f.category = j.value("category", "");
  f.severity = parse_severity(j.value("severity", "")).value_or(Severity::info);
  const json& ev = j.value("evidence", json::object());
  f.evidence =
      Evidence{ev.value("path", ""), ev.value("history_index", -1), ev.value("created_by", ""),
               ev.value("config_key", ""), ev.value("detail", "")};
  f.layer_digest = j.value("layer_digest", "");
  f.origin = j.value("origin", "app") == "base" ? Origin::base : Origin::app;
  f.suppressed = j.value("suppressed", false);
  f.suppression_reason = j.value("suppression_reason", "");
  f.suppression_expired = j.value("suppression_expired", "");
  f.weight = j.value("weight", -1);
  f.more = j.value("more", std::size_t{0});
  return f;
}

json to_json(const Suppression& s) {
  json j = {{"rule_id", s.rule_id}};
  if (!s.path.empty()) j["path"] = s.path;
  if (!s.env_key.empty()) j["env_key"] = s.env_key;
  if (!s.reason.empty()) j["reason"] = s.reason;
  if (!s.image.empty()) j["image"] = s.image;
  if (!s.expires.empty()) j["expires"] = s.expires;
  return j;
}

Result<Suppression> suppression_from_json(const json& j) {
  if (!j.is_object() || !j.contains("rule_id") || !j["rule_id"].is_string())
    return make_error(Errc::bad_request, "a suppression needs \"rule_id\"");
  Suppression s{j["rule_id"], "", "", "", "", ""};
  if (j.contains("path")) {
    if (!j["path"].is_string())
      return make_error(Errc::bad_request, "suppression \"path\" must be a string");
    s.path = j["path"];
  }
  if (j.contains("env_key")) {
    if (!j["env_key"].is_string())
      return make_error(Errc::bad_request, "suppression \"env_key\" must be a string");
    s.env_key = j["env_key"];
  }
  if (j.contains("reason")) {
    if (!j["reason"].is_string() || j["reason"].get_ref<const std::string&>().size() > 1000)
      return make_error(Errc::bad_request,
                        "suppression \"reason\" must be a string of at most 1000 bytes");
    s.reason = j["reason"];
  }
  if (j.contains("image")) {
    auto image = j["image"].is_string()
                     ? normalize_suppression_image(j["image"].get_ref<const std::string&>())
                     : Result<std::string>(make_error(Errc::bad_request, ""));
    if (!image)
      return make_error(Errc::bad_request,
                        "suppression \"image\" must name an image (registry/repo:tag), a "
                        "repository (registry/repo) or a prefix ending in '/'");
    s.image = *image;
  }
  if (j.contains("expires")) {
    if (!j["expires"].is_string() || !is_date(j["expires"].get_ref<const std::string&>()))
      return make_error(Errc::bad_request,
                        "suppression \"expires\" must be a date, YYYY-MM-DD (the last day it "
                        "suppresses)");
    s.expires = j["expires"];
  }
  return s;
}

}  // namespace bw
