// Runs a helper program (docker credential helpers) with bounded time and output.
#pragma once

#include "common/error.h"

#include <chrono>
#include <string>
#include <vector>

namespace bw {

struct SubprocessResult {
  int exit_code = -1;
  std::string out;  // standard output, at most 1 MiB
};

// Runs argv (argv[0] looked up on PATH) with `input` on standard input; standard error is
// discarded. The child is killed after `timeout`, giving Errc::timeout.
Result<SubprocessResult> run_subprocess(const std::vector<std::string>& argv,
                                        const std::string& input,
                                        std::chrono::milliseconds timeout);

}  // namespace bw
