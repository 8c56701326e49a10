#include "postgres.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>

namespace bw::test {
namespace {

constexpr const char* kBin = "/usr/lib/postgresql/15/bin/";

}  // namespace

bool LocalPostgres::available() {
  return access((std::string(kBin) + "initdb").c_str(), X_OK) == 0;
}

LocalPostgres::LocalPostgres() {
  if (!available()) throw std::runtime_error("postgresql-15 is not installed");
  // postgres will not run as root: as root, hand the directory to an unprivileged user.
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    if (!pw) pw = getpwnam("nobody");
    if (!pw) throw std::runtime_error("no unprivileged user to run postgres as");
    owner_ = pw->pw_name;
    chmod(dir_.path().c_str(), 0755);
    data_ = dir_.path() + "/pg";
    std::filesystem::create_directories(data_);
    if (chown(data_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
      throw std::runtime_error("cannot chown the postgres directory");
  } else {
    data_ = dir_.path() + "/pg";
    std::filesystem::create_directories(data_);
  }
  std::string out;
  if (as_owner({std::string(kBin) + "initdb", "-D", data_ + "/data", "-U", "bulwark",
                "--auth=trust", "-E", "UTF8", "--no-sync"},
               out) != 0)
    throw std::runtime_error("initdb failed: " + out);
  start();
}

LocalPostgres::~LocalPostgres() {
  stop();
}

int LocalPostgres::as_owner(std::vector<std::string> argv, std::string& out) const {
  if (!owner_.empty()) argv.insert(argv.begin(), {"runuser", "-u", owner_, "--"});
  return run_command(argv, out, std::chrono::seconds(60));
}

void LocalPostgres::start() {
  std::string out;
  // The port was free a moment ago; another process may take it first: try a few.
  for (int attempt = 0; attempt < 3 && !running_; ++attempt) {
    if (port_ == 0 || attempt > 0) port_ = free_port();
    int rc = as_owner({std::string(kBin) + "pg_ctl", "-D", data_ + "/data", "-l",
                       data_ + "/server.log", "-w", "-t", "30", "-o",
                       "-h 127.0.0.1 -p " + std::to_string(port_) + " -k " + data_ +
                           " -c fsync=off -c max_connections=200"
                           // What each statement cost, nested ones and their planning
                           // included: the tests that check a plan is kept read it.
                           " -c shared_preload_libraries=pg_stat_statements"
                           " -c pg_stat_statements.track=all"
                           " -c pg_stat_statements.track_planning=on",
                       "start"},
                      out);
    running_ = rc == 0;
  }
  if (!running_) throw std::runtime_error("postgres did not start: " + out);
}

void LocalPostgres::stop() {
  if (!running_) return;
  std::string out;
  as_owner({std::string(kBin) + "pg_ctl", "-D", data_ + "/data", "-m", "fast", "-w", "stop"}, out);
  running_ = false;
}

std::string LocalPostgres::url(const std::string& database) const {
  return "postgresql://bulwark@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

std::string LocalPostgres::create_database() {
  std::string name = "t" + std::to_string(++databases_), out;
  if (run_command({"psql", "-q", "-X", url("postgres"), "-c", "CREATE DATABASE " + name}, out) != 0)
    throw std::runtime_error("CREATE DATABASE failed: " + out);
  return url(name);
}

}  // namespace bw::test
