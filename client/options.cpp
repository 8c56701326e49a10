#include "options.h"

#include "common/text.h"

#include <boost/program_options.hpp>

#include <algorithm>
#include <cctype>

namespace bw::cli {
namespace {

namespace po = boost::program_options;

const char* const kSeverities[] = {"info", "low", "medium", "high", "critical"};
const char* const kFormats[] = {"table", "json", "sarif", "junit", "markdown", "cyclonedx"};

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// A whole number in [lo, hi], all of `text`: "5abc", "", "1e3" and out-of-range values are not.
std::optional<long> whole_number(const std::string& text, long lo, long hi) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  std::size_t i = text[0] == '-' ? 1 : 0;
  if (i == text.size()) return std::nullopt;
  for (std::size_t k = i; k < text.size(); ++k)
    if (text[k] < '0' || text[k] > '9') return std::nullopt;
  long v = std::stol(text);
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = std::min(text.find(',', start), text.size());
    std::string item = text.substr(start, comma - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

po::options_description described() {
  po::options_description d;
  d.add_options()                                       //
      ("help,h", "")                                    //
      ("version", "")                                   //
      ("json", "")                                      //
      ("no-wait", "")                                   //
      ("no-color", "")                                  //
      ("verbose,v", "")                                 //
      ("quiet,q", "")                                   //
      ("server", po::value<std::string>())              //
      ("cacert", po::value<std::string>())              //
      ("platform,p", po::value<std::string>())          //
      ("fail-on", po::value<std::string>())             //
      ("fail-under", po::value<std::string>())          //
      ("timeout", po::value<std::string>())             //
      ("format,f", po::value<std::string>())            //
      ("output,o", po::value<std::string>())            //
      ("input,i", po::value<std::string>())             //
      ("ignore", po::value<std::string>())              //
      ("ignore-file", po::value<std::string>())         //
      ("token-realm", po::value<std::string>())         //
      ("onto", po::value<std::string>())                //
      ("push", po::value<std::string>())                //
      ("snapshot", po::value<std::string>())            //
      ("args", po::value<std::vector<std::string>>());  // the command and its arguments
  return d;
}

// Each option as it stands on the line, in order: --format and --output pair by position.
std::optional<std::string> apply(const po::option& o, Command& c) {
  const std::string& key = o.string_key;
  const std::string v = o.value.empty() ? std::string() : o.value.front();
  if (key == "args") {
    for (auto& a : o.value) (c.name.empty() ? c.name : c.params.emplace_back()) = a;
  } else if (key == "help") {
    c.help = true;
  } else if (key == "version") {
    c.version = true;
  } else if (key == "json") {
    c.json = true;
  } else if (key == "no-wait") {
    c.wait = false;
  } else if (key == "no-color") {
    c.no_color = true;
  } else if (key == "verbose") {
    c.verbose = true;
  } else if (key == "quiet") {
    c.quiet = true;
  } else if (key == "server") {
    c.server = v;
  } else if (key == "cacert") {
    c.cacert = v;
  } else if (key == "platform") {
    c.platform = v;
  } else if (key == "input") {
    c.input = v;
  } else if (key == "onto") {
    c.onto = v;
  } else if (key == "push") {
    c.push = v;
  } else if (key == "snapshot") {
    c.snapshot = v;
  } else if (key == "ignore-file") {
    c.ignore_file = v;
  } else if (key == "token-realm") {
    for (auto& r : split_commas(v)) c.token_realms.push_back(r);
  } else if (key == "fail-on") {
    std::string sev = lower(v);
    if (std::find(std::begin(kSeverities), std::end(kSeverities), sev) == std::end(kSeverities))
      return "--fail-on takes info, low, medium, high or critical, not \"" + v + "\"";
    c.policy["fail_on"] = sev;
  } else if (key == "format") {
    for (auto& f : split_commas(v)) {
      std::string format = lower(f);
      if (std::find(std::begin(kFormats), std::end(kFormats), format) == std::end(kFormats))
        return "--format takes table, json, sarif, junit, markdown or cyclonedx, not \"" + f + "\"";
      c.outputs.emplace_back(format, "");
    }
  } else if (key == "output") {
    if (c.outputs.empty() || !c.outputs.back().second.empty()) c.outputs.emplace_back("table", "");
    c.outputs.back().second = v;
  } else if (key == "ignore") {
    for (auto& id : split_commas(v)) {
      std::string upper = id;
      for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      c.policy["ignore"].push_back(upper);
    }
  } else if (key == "fail-under" || key == "timeout") {
    bool under = key == "fail-under";
    auto n = under ? whole_number(v, 0, 100) : whole_number(v, 1, 86'400);
    if (!n)
      return "--" + key + " takes a whole number from " + (under ? "0 to 100" : "1 to 86400") +
             ", not \"" + v + "\"";
    if (under)
      c.policy["fail_under"] = *n;
    else
      c.timeout = *n;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> parse_command(const std::vector<std::string>& args, Command& c) {
  po::positional_options_description positional;
  positional.add("args", -1);
  // No guessing: `--fail` must not silently mean `--fail-on`.
  const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
  po::parsed_options parsed(nullptr);
  try {
    parsed = po::command_line_parser(args)
                 .options(described())
                 .positional(positional)
                 .style(style)
                 .run();
  } catch (const po::invalid_command_line_syntax& e) {
    if (e.kind() == po::invalid_syntax::missing_parameter)
      return e.get_option_name() + " needs a value";
    return std::string(e.what());
  } catch (const po::unknown_option& e) {
    return "unknown option " + e.get_option_name();
  } catch (const po::error& e) {
    return std::string(e.what());
  }
  for (auto& o : parsed.options)
    if (auto bad = apply(o, c)) return bad;
  return std::nullopt;
}

std::string did_you_mean(const std::string& id, const std::vector<std::string>& known) {
  std::string best;
  std::size_t best_d = std::string::npos;
  for (auto& k : known)
    if (std::size_t d = bw::edit_distance(id, k); d < best_d) {
      best_d = d;
      best = k;
    }
  if (best.empty() || best_d > std::max<std::size_t>(3, id.size() / 3)) return {};
  return "did you mean " + best + "?";
}

void usage(std::ostream& out, const std::string& command) {
  const std::string scan =
      "  scan IMAGE [--platform OS/ARCH[/VARIANT]|all] [--timeout SECONDS] [--json] [--no-wait]\n"
      "             [--fail-under SCORE] [--fail-on SEVERITY] [--ignore RULE_ID[,RULE_ID]]...\n"
      "             [--ignore-file FILE] [--quiet] [--token-realm HOST:PORT]...\n"
      "             [--format|-f table|json|sarif|junit|markdown|cyclonedx [--output|-o FILE]]...\n"
      "  scan --input|-i [docker-archive:|oci-archive:|oci:]PATH[:TAG] ...  an image from a\n"
      "             `docker save` tarball, an oci-archive or an OCI layout directory (no daemon)\n"
      "      submit a scan and wait for it (default timeout 600 s); exit 1 when the image\n"
      "      scores under SCORE or has a finding at or above SEVERITY (info..critical, any\n"
      "      case) that no --ignore or ignore-file entry suppresses. With --platform all every\n"
      "      platform is written and the worst one decides.\n"
      "      An ignore file (./.bulwarkignore, YAML or JSON) lists entries {rule, path?, image?,\n"
      "      env_key?, reason?, expires: YYYY-MM-DD?}; an expired entry stops suppressing.\n"
      "      --token-realm (or $BULWARK_TOKEN_REALMS, comma-separated) lets a token service on\n"
      "      another host over plain HTTP receive the registry's credentials (in-process).\n";
  const std::string diff =
      "  diff BEFORE AFTER [--json|--format table|json|markdown [--output FILE]]\n"
      "             [--fail-under SCORE] [--fail-on SEVERITY] [--ignore RULE_ID]...\n"
      "      what changed between two images: score and grade, packages and findings added\n"
      "      and removed; the policy is judged on AFTER\n";
  const std::string others =
      "  report DIGEST             print an image's report (JSON)\n"
      "  status SCAN_ID [--json]   show a scan\n"
      "  image DIGEST              print the stored image record (JSON)\n"
      "  layer DIGEST              print a layer's facts (JSON)\n"
      "  health                    check that the server answers\n"
      "  bases [--json]            the candidate bases, as the server measured them\n"
      "  bases --snapshot FILE     write what it measured of them (digests, layer facts) for a\n"
      "                            daemon that cannot reach them: its bases.snapshot\n"
      "  harden IMAGE (--push REGISTRY/REPO[:TAG] | --output oci:DIR|oci-archive:FILE)\n"
      "         [--onto BASE_ID|BASE_IMAGE] [--json]\n"
      "      scan IMAGE, build the switch its plan recommends (or onto a catalog entry, or any\n"
      "      image by reference, scanned first) without Docker:\n"
      "      the base's layers, the app's closure, the config the projection scored; push it\n"
      "      (or write it here as an OCI layout), scan it, and print the score before,\n"
      "      projected and measured (exit 1 if they differ)\n";
  const std::string common =
      "\n"
      "  --help, -h, --version     this text (per command: bulwark scan --help); the CLI's\n"
      "                            version and the server's rule set\n"
      "  --verbose, -v, --no-color list every file of a folded finding; no colour (NO_COLOR)\n"
      "  --quiet, -q               no table on stdout unless a --format asks for it\n"
      "Options take `--opt value` or `--opt=value`, anywhere on the line.\n"
      "\n"
      "--server defaults to $BULWARK_SERVER. With neither, `scan` runs the engine in this\n"
      "process (layer cache in $XDG_CACHE_HOME/bulwark) and reads IMAGE from a registry or\n"
      "from oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE; the other commands\n"
      "ask http://127.0.0.1:8080. An API token is read from $BULWARK_TOKEN.\n";
  out << "usage: bulwark [--server URL [--cacert FILE]] COMMAND ... (options anywhere)\n\n";
  if (command == "scan") {
    out << scan << common;
  } else if (command == "diff") {
    out << diff << common;
  } else {
    out << "commands:\n" << scan << diff << others << common;
  }
}

}  // namespace bw::cli
