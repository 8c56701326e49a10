#include "pki.h"

#include <stdexcept>
#include <vector>

namespace bw::test {

Pki::Pki() {
  ca = dir.path() + "/ca.crt";
  cert = dir.path() + "/server.crt";
  key = dir.path() + "/server.key";
  certs_dir = dir.path() + "/certs.d";
  client_cert = dir.path() + "/client.crt";
  client_key = dir.path() + "/client.key";
  std::string d = dir.path(), out;
  write_file(d + "/ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (auto& cmd : std::vector<std::vector<std::string>>{
           {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/ca.key",
            "-out", ca, "-days", "2", "-subj", "/CN=bulwark-test-ca"},
           {"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
            d + "/server.csr", "-subj", "/CN=127.0.0.1"},
           {"openssl", "x509", "-req", "-in", d + "/server.csr", "-CA", ca, "-CAkey", d + "/ca.key",
            "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", d + "/ext"},
           {"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", client_key, "-out",
            d + "/client.csr", "-subj", "/CN=bulwark-test-client"},
           {"openssl", "x509", "-req", "-in", d + "/client.csr", "-CA", ca, "-CAkey", d + "/ca.key",
            "-CAcreateserial", "-out", client_cert, "-days", "2"}}) {
    if (run_command(cmd, out) != 0) throw std::runtime_error("openssl failed: " + out);
  }
  write_file(certs_dir + "/ca.crt", read_file(ca));
}

}  // namespace bw::test
