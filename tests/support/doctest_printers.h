// How doctest prints our types in failure messages. Included into every test file by the build
// (tests/CMakeLists.txt) so that CHECK(result) compiles for any Result<T>.
#pragma once

#include "common/error.h"

#include <doctest/doctest.h>

namespace doctest {

template <class T>
struct StringMaker<boost::system::result<T, bw::Error>> {
  static String convert(const boost::system::result<T, bw::Error>& r) {
    if (r.has_value()) return "ok";
    std::string s =
        "error " + std::string(bw::errc_name(r.error().code)) + ": " + r.error().message;
    return String(s.c_str());
  }
};

}  // namespace doctest
