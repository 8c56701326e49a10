// /etc/passwd, /etc/group, and of /etc/shadow only whether each password is empty, locked or
// set (never a hash).
#include "analyze/analyze.h"
#include "analyze/detail/builtin.h"
#include "common/text.h"

#include <sstream>

namespace bw::detail {
namespace {

std::vector<Account> parse_passwd(std::string_view content) {
  std::vector<Account> accounts;
  std::istringstream in{std::string(content)};
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto f = split(line, ':');
    if (f.size() < 7) continue;
    accounts.push_back(Account{f[0], f[2], f[3], f[5], f[6]});
  }
  return accounts;
}

std::vector<Group> parse_group(std::string_view content) {
  std::vector<Group> groups;
  std::istringstream in{std::string(content)};
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto f = split(line, ':');
    if (f.size() < 3) continue;
    groups.push_back(Group{f[0], f[2]});
  }
  return groups;
}

std::vector<PasswordEntry> parse_shadow(std::string_view content) {
  std::vector<PasswordEntry> out;
  std::istringstream in{std::string(content)};
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto c1 = line.find(':');
    if (c1 == std::string::npos) continue;
    auto c2 = line.find(':', c1 + 1);
    std::string pw = line.substr(c1 + 1, c2 == std::string::npos ? std::string::npos : c2 - c1 - 1);
    PasswordState state = pw.empty()                       ? PasswordState::empty
                          : (pw[0] == '!' || pw[0] == '*') ? PasswordState::locked
                                                           : PasswordState::set;
    out.push_back(PasswordEntry{line.substr(0, c1), state});
  }
  return out;
}

class AccountsAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "accounts"; }
  int version() const override { return 1; }
  std::size_t wants(const EntryView& e, const AnalyzeOptions& o) const override {
    bool account = e.path == "etc/passwd" || e.path == "etc/group" || e.path == "etc/shadow";
    return e.kind == 'f' && account ? o.max_file_read_bytes : 0;
  }
  void analyze(const EntryView& e, std::string_view head, bool, const AnalyzeOptions&,
               FileInfo& out) const override {
    if (e.path == "etc/passwd") out.accounts = parse_passwd(head);
    if (e.path == "etc/group") out.groups = parse_group(head);
    if (e.path == "etc/shadow") out.shadow = parse_shadow(head);
  }
};

}  // namespace

const Analyzer& accounts_analyzer() {
  static const AccountsAnalyzer a;
  return a;
}

}  // namespace bw::detail
