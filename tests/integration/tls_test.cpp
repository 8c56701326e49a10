// TLS on the API listener through the real binary: HTTPS with the configured certificate, the
// CLI verifying it with --cacert, a renewed certificate picked up on SIGHUP, and client
// certificates required when a client CA is configured.
#include "daemon.h"
#include "pki.h"

#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <thread>

using namespace bw::test;
using nlohmann::json;

namespace {

int curl(const std::vector<std::string>& args, std::string& out) {
  std::vector<std::string> argv = {"curl", "-sS", "--max-time", "10"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, out);
}

}  // namespace

TEST_CASE("HTTPS listener: the CLI verifies it with --cacert; plain HTTP is refused") {
  Pki pki;
  Daemon d(json{{"api", {{"tls", {{"cert_file", pki.cert}, {"key_file", pki.key}}}}}});
  std::string url = d.api().server();
  REQUIRE(url.starts_with("https://127.0.0.1:"));
  std::string out;
  CHECK(run_command({BULWARK_CLI_PATH, "--server", url, "--cacert", pki.ca, "health"}, out) == 0);
  CHECK(curl({"--cacert", pki.ca, url + "/v1/stats"}, out) == 0);
  CHECK(json::parse(out).contains("images"));
  // Without the CA the client refuses the server; plain HTTP gets no answer from it.
  CHECK(run_command({BULWARK_CLI_PATH, "--server", url, "health"}, out) == 4);
  std::string plain = "http://" + url.substr(8);
  CHECK(curl({plain + "/healthz"}, out) != 0);
  // The daemon still serves after the failed handshakes.
  CHECK(curl({"--cacert", pki.ca, url + "/healthz"}, out) == 0);
}

TEST_CASE("SIGHUP reloads a renewed certificate; connections after it use the new one") {
  Pki first, second;
  TempDir dir;
  std::string cert = dir.path() + "/tls.crt", key = dir.path() + "/tls.key";
  std::filesystem::copy_file(first.cert, cert);
  std::filesystem::copy_file(first.key, key);
  Daemon d(json{{"api", {{"tls", {{"cert_file", cert}, {"key_file", key}}}}}});
  std::string url = d.api().server(), out;
  CHECK(curl({"--cacert", first.ca, url + "/healthz"}, out) == 0);
  std::filesystem::copy_file(second.cert, cert, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(second.key, key, std::filesystem::copy_options::overwrite_existing);
  REQUIRE(::kill(d.pid(), SIGHUP) == 0);
  bool renewed = false;
  for (int i = 0; i < 100 && !renewed; ++i) {
    renewed = curl({"--cacert", second.ca, url + "/healthz"}, out) == 0;
    if (!renewed) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(renewed);
  CHECK(curl({"--cacert", first.ca, url + "/healthz"}, out) != 0);
  CHECK(d.log().find("TLS certificate reloaded") != std::string::npos);
  // A broken file on the next SIGHUP keeps the certificate in use.
  bw::test::write_file(key, "not a key");
  REQUIRE(::kill(d.pid(), SIGHUP) == 0);
  bool logged = false;
  for (int i = 0; i < 100 && !logged; ++i) {
    logged = d.log().find("TLS reload failed") != std::string::npos;
    if (!logged) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(logged);
  CHECK(curl({"--cacert", second.ca, url + "/healthz"}, out) == 0);
}

TEST_CASE("with a client CA, callers must present a certificate it signed") {
  Pki pki, stranger;
  Daemon d(json{
      {"api",
       {{"tls", {{"cert_file", pki.cert}, {"key_file", pki.key}, {"client_ca_file", pki.ca}}}}}});
  std::string url = d.api().server(), out;
  CHECK(curl({"--cacert", pki.ca, url + "/healthz"}, out) != 0);
  CHECK(curl({"--cacert", pki.ca, "--cert", stranger.client_cert, "--key", stranger.client_key,
              url + "/healthz"},
             out) != 0);
  CHECK(curl({"--cacert", pki.ca, "--cert", pki.client_cert, "--key", pki.client_key,
              url + "/healthz"},
             out) == 0);
  CHECK(json::parse(out)["status"] == "ok");
}

TEST_CASE("a TLS configuration that cannot be loaded stops start-up, naming the file") {
  TempDir dir;
  std::string out;
  bw::test::write_file(
      dir.path() + "/c.json",
      R"({"api": {"tls": {"cert_file": "/nonexistent.crt", "key_file": "/nonexistent.key"}}})");
  CHECK(run_command({BULWARKD_PATH, "--listen", "127.0.0.1:0", "--data-dir", dir.path() + "/d",
                     "--config", dir.path() + "/c.json"},
                    out) != 0);
  CHECK(out.find("api.tls.cert_file /nonexistent.crt") != std::string::npos);
  bw::test::write_file(dir.path() + "/half.json", R"({"api": {"tls": {"cert_file": "/x.crt"}}})");
  CHECK(run_command({BULWARKD_PATH, "config", "check", dir.path() + "/half.json"}, out) == 2);
  CHECK(out.find("api.tls needs both cert_file and key_file") != std::string::npos);
}
