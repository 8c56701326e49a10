// A throwaway PKI for TLS tests: a CA and a server certificate for 127.0.0.1 and localhost,
// made with the openssl command.
#pragma once

#include "process.h"

#include <string>

namespace bw::test {

struct Pki {
  Pki();
  TempDir dir;
  std::string ca, cert, key, certs_dir;  // certs_dir holds ca.crt (docker's certs.d form)
  std::string client_cert, client_key;   // a client certificate the CA signed
};

}  // namespace bw::test
