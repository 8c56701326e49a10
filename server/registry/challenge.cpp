#include "registry/challenge.h"

#include "common/text.h"

#include <algorithm>
#include <cctype>

namespace bw {
namespace {

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~/").find(c) != std::string_view::npos;
}

}  // namespace

std::vector<Challenge> parse_challenges(std::string_view h) {
  std::vector<Challenge> out;
  std::size_t i = 0;
  auto skip = [&](std::string_view set) {
    while (i < h.size() && set.find(h[i]) != std::string_view::npos) ++i;
  };
  while (i < h.size()) {
    skip(" \t,");
    std::size_t start = i;
    while (i < h.size() && is_token_char(h[i])) ++i;
    if (i == start) {
      ++i;  // junk: step over it
      continue;
    }
    std::string_view token = h.substr(start, i - start);
    std::size_t after = i;
    skip(" \t");
    if (i < h.size() && h[i] == '=' && !out.empty()) {
      // key=value of the current challenge (token68 values such as "abc==" are not used here).
      ++i;
      skip(" \t");
      std::string value;
      if (i < h.size() && h[i] == '"') {
        ++i;
        while (i < h.size() && h[i] != '"') {
          if (h[i] == '\\' && i + 1 < h.size()) ++i;
          value += h[i++];
        }
        ++i;  // closing quote
      } else {
        std::size_t v = i;
        while (i < h.size() && h[i] != ',' && h[i] != ' ' && h[i] != '\t') ++i;
        value = std::string(h.substr(v, i - v));
      }
      out.back().params[to_lower(token)] = std::move(value);
    } else {
      i = after;
      out.push_back(Challenge{to_lower(token), {}});
    }
  }
  return out;
}

}  // namespace bw
