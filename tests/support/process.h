// Child processes for tests: started with posix_spawn, output to files, stopped on destruction.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace bw::test {

class Process {
 public:
  // Starts argv[0] (a path) with stdout and stderr appended to the given files.
  // Also passes `env` ("NAME=value") on top of this process's environment.
  Process(std::vector<std::string> argv, const std::string& stdout_path,
          const std::string& stderr_path, const std::vector<std::string>& env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // Sends `sig` and waits up to `timeout` for the exit; SIGKILL after that. Returns the exit
  // status (as from waitpid) or -1.
  int stop(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(15));

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

// Runs a command to completion; returns its exit code and captures stdout+stderr. Past
// `timeout` the command (the one this started, by pid) is killed and -2 returned, so that a hang
// fails one case instead of the whole run.
int run_command(const std::vector<std::string>& argv, std::string& output,
                std::chrono::seconds timeout = std::chrono::seconds(300));

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& content);
// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
unsigned short free_port();

// A port on 127.0.0.1 where nothing listens for as long as this lives: it is bound (so nobody
// else can take it) but never listened on, so connecting is refused at once. For "the registry
// is unreachable" without assuming anything about a fixed port.
class RefusingPort {
 public:
  RefusingPort();
  ~RefusingPort();
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  unsigned short port() const { return port_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  unsigned short port_ = 0;
};

// Polls `done` every 25 ms for up to `limit`; whether it came true. For what another process
// does in its own time: never a measure of speed.
template <class F>
bool eventually(F done, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return true;
}

}  // namespace bw::test
