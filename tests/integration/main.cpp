// doctest's main; DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN comes from the build (tests/CMakeLists.txt).
#include <doctest/doctest.h>
