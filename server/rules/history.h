// Image history (config.history[].created_by) as build steps: the legacy `/bin/sh -c #(nop) …`
// and BuildKit `RUN … # buildkit` forms, build-arg prefixes `|N k=v …` stripped, and RUN text
// split into shell commands on `&&`, `||`, `;`, `|` and newlines with quoting respected.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace bw {

struct ShellCommand {
  std::vector<std::string> argv;  // words, quotes removed
  bool piped = false;             // its stdin is the previous command's stdout
};

struct HistoryStep {
  int index = 0;           // position in config.history
  std::string created_by;  // as recorded
  bool empty_layer = false;
  int layer_index = -1;                 // the layer it produced, or -1
  std::string instruction;              // RUN, ADD, COPY, ENV, ARG, CMD, USER, …
  std::string text;                     // the instruction's arguments (RUN: the shell command)
  std::vector<std::string> build_args;  // "k=v" from a `|N k=v` prefix
  std::vector<ShellCommand> commands;   // RUN only
};

std::vector<HistoryStep> parse_history(const nlohmann::json& config);
HistoryStep parse_created_by(std::string_view created_by);

// Whether NAME (of NAME=VALUE in Env, ARG or a build arg) looks like it holds a secret.
bool is_secret_name(std::string_view name);
// A secret written inline in a command: a password piped to chpasswd or `passwd --stdin`,
// `htpasswd -b`, `--password VALUE`, a MySQL client's `-pVALUE`, `user:pass@` in a URL, an
// Authorization header, curl's or wget's `-u user:pass`. Values that are only a variable
// (`$DB_PASSWORD`) are no secret in the text and are left out.
struct InlineSecret {
  std::string kind;                    // "chpasswd", "password option", "URL credentials", …
  std::size_t offset = 0, length = 0;  // of the value in the text
};
std::vector<InlineSecret> find_inline_secrets(std::string_view text);

// `text` with the values of secret-looking NAME=VALUE assignments and inline secrets replaced by
// kSecretMask.
std::string mask_secret_assignments(std::string_view text);
// A label key that names a secret ("password", "com.example.api-token").
bool is_secret_label(std::string_view key);
// A command-line option that takes a secret: --password, --db-password=…, --token, --api-key.
bool is_secret_option(std::string_view arg);
// An image config with its secrets masked: the values of secret-looking Env names and labels,
// secrets inside any other Env value or label (a URL's password), the values of --password and
// the like in Entrypoint, Cmd and Healthcheck, and history assignments. What is stored and
// served, so that a secret in the config never reaches the database.
nlohmann::json mask_config_secrets(nlohmann::json config);

// Bounds on the strings an image config may carry into the store and reports (README
// "Limits"): a build step's text, and every other string (User, WorkingDir, an Env entry, a
// label's key or value, an Entrypoint/Cmd/Healthcheck argument, a port or volume, author).
inline constexpr std::size_t kMaxHistoryText = 16 * 1024;
inline constexpr std::size_t kMaxConfigString = 4 * 1024;
// The config with every string past its bound clip()ped. Applied after mask_config_secrets (a
// cut never leaves part of a secret unmasked) and before the config is stored.
nlohmann::json bound_config(nlohmann::json config);

// Splits shell text into commands; `$(…)` and backquoted text stay inside their word.
std::vector<ShellCommand> split_shell(std::string_view text);

}  // namespace bw
