// The CLI's command line, parsed whole by Boost.Program_options: options may stand before or
// after the command and its arguments, as `--opt value`, `--opt=value` or `-o value`.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace bw::cli {

struct Command {
  std::string server;
  std::string name;                 // scan, diff, status, image, layer, report, health
  std::vector<std::string> params;  // positional arguments after the command
  std::string platform;
  std::string input;        // --input [TRANSPORT:]PATH[:TAG]: an image from a file
  std::string cacert;       // --cacert FILE: the CA that signed an https:// server's certificate
  std::string ignore_file;  // --ignore-file FILE; else ./.bulwarkignore when it exists
  std::string onto;         // harden --onto ID: the candidate base; else the plan's switch
  std::string push;         // harden --push REGISTRY/REPOSITORY[:TAG]
  std::string snapshot;     // bases --snapshot FILE: the measurements, for bases.snapshot
  // --token-realm HOST:PORT (and $BULWARK_TOKEN_REALMS): token services on another host that
  // may receive a registry's credentials when scanning in-process.
  std::vector<std::string> token_realms;
  long timeout = 600;
  bool json = false, wait = true, help = false, version = false, no_color = false, verbose = false,
       quiet = false;
  // --format F [--output FILE] pairs, in order; an output without a file goes to stdout.
  std::vector<std::pair<std::string, std::string>> outputs;
  // {"fail_under", "fail_on", "ignore": [rule ids]}, as POST /v1/scans takes it.
  nlohmann::json policy = nlohmann::json::object();
};

// Fills `c` from the arguments after the program name; the error is one line for stderr.
// Severities are read in any case (`HIGH`); `--ignore A,B` is two rules.
std::optional<std::string> parse_command(const std::vector<std::string>& args, Command& c);

// The usage text: the whole of it, or one command's (`bulwark scan --help`).
void usage(std::ostream& out, const std::string& command = {});

// "did you mean BW-USER-ROOT?" for an id close to one of `known`, else empty.
std::string did_you_mean(const std::string& id, const std::vector<std::string>& known);

}  // namespace bw::cli
