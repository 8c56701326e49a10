// A token service like Docker Hub's for distribution's `auth: token` mode: RS256 JWTs whose
// `kid` is the libtrust fingerprint of the signing key, granted per repository. Runs on a
// FaultServer; the test points the registry's realm at it.
#pragma once

#include "fault_server.h"
#include "process.h"

#include <memory>
#include <string>

namespace bw::test {

class TokenService {
 public:
  // Users (name → password) may pull and push everything; anonymous callers may pull
  // repositories outside "private/".
  explicit TokenService(std::map<std::string, std::string> users);
  ~TokenService();

  std::string realm() const;  // "http://127.0.0.1:PORT/token"
  const std::string& service() const { return service_; }
  const std::string& issuer() const { return issuer_; }
  const std::string& cert_path() const { return cert_; }
  std::vector<SeenRequest> requests() const { return server_->requests(); }

 private:
  Reply handle(const SeenRequest& req);

  TempDir dir_;
  std::string key_, cert_, kid_;
  std::string service_ = "bulwark-test-registry";
  std::string issuer_ = "bulwark-test-issuer";
  std::map<std::string, std::string> users_;
  std::unique_ptr<FaultServer> server_;
};

}  // namespace bw::test
