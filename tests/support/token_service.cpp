#include "token_service.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/url/parse.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <stdexcept>

namespace bw::test {

namespace {

namespace b64 = boost::beast::detail::base64;

std::string base64url(std::string_view in) {
  std::string out(b64::encoded_size(in.size()), '\0');
  out.resize(b64::encode(out.data(), in.data(), in.size()));
  for (auto& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

std::string base64_decode(std::string_view in) {
  std::string out(b64::decoded_size(in.size()), '\0');
  out.resize(b64::decode(out.data(), in.data(), in.size()).first);
  return out;
}

// libtrust's key id: base32 of the first 30 bytes of sha256(DER SubjectPublicKeyInfo), in
// groups of four joined by ':'.
std::string libtrust_kid(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  unsigned char hash[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<std::size_t>(len), hash);
  OPENSSL_free(der);
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string b32;
  unsigned buffer = 0;
  int bits = 0;
  for (int i = 0; i < 30; ++i) {
    buffer = (buffer << 8) | hash[i];
    bits += 8;
    while (bits >= 5) {
      b32 += kAlphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  std::string out;
  for (std::size_t i = 0; i < b32.size(); i += 4) {
    if (!out.empty()) out += ':';
    out += b32.substr(i, 4);
  }
  return out;
}

EVP_PKEY* load_key(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) throw std::runtime_error("cannot open " + path);
  EVP_PKEY* k = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (!k) throw std::runtime_error("cannot read key " + path);
  return k;
}

std::string sign_rs256(const std::string& key_path, const std::string& input) {
  EVP_PKEY* key = load_key(key_path);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
  std::size_t len = 0;
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return sig;
}

}  // namespace

TokenService::TokenService(std::map<std::string, std::string> users) : users_(std::move(users)) {
  key_ = dir_.path() + "/token.key";
  cert_ = dir_.path() + "/token.crt";
  std::string out;
  if (run_command({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key_,
                   "-out", cert_, "-days", "2", "-subj", "/CN=bulwark-test-token"},
                  out) != 0)
    throw std::runtime_error("openssl req failed: " + out);
  EVP_PKEY* key = load_key(key_);
  kid_ = libtrust_kid(key);
  EVP_PKEY_free(key);
  server_ = std::make_unique<FaultServer>([this](const SeenRequest& r) { return handle(r); });
}

TokenService::~TokenService() = default;

std::string TokenService::realm() const {
  return "http://" + server_->host() + "/token";
}

Reply TokenService::handle(const SeenRequest& req) {
  std::string user;
  std::string auth = req.header("authorization");
  if (auth.starts_with("Basic ")) {
    std::string plain = base64_decode(auth.substr(6));
    auto colon = plain.find(':');
    auto it = users_.find(plain.substr(0, colon));
    if (colon == std::string::npos || it == users_.end() || it->second != plain.substr(colon + 1))
      return Reply{401, {{"Content-Type", "application/json"}}, R"({"details":"bad credentials"})"};
    user = it->first;
  }
  // docker login with a token: the OAuth2 refresh-token grant, form-encoded in a POST body.
  std::string query = req.target;
  if (req.method == "POST") {
    query = "/token?" + req.body;
    auto form = boost::urls::parse_origin_form(query);
    if (!form) return Reply{400, {}, "bad form"};
    std::string refresh;
    for (auto p : form->params())
      if (p.key == "refresh_token") refresh = p.value;
    for (auto& [name, pass] : users_)
      if (refresh == name + "-refresh") user = name;
    if (user.empty())
      return Reply{
          401, {{"Content-Type", "application/json"}}, R"({"details":"bad refresh token"})"};
  }
  auto target = boost::urls::parse_origin_form(query);
  if (!target) return Reply{400, {}, "bad target"};
  nlohmann::json access = nlohmann::json::array();
  for (auto p : target->params()) {
    if (p.key != "scope") continue;
    // repository:NAME:ACTIONS
    std::string scope = p.value;
    auto first = scope.find(':'), last = scope.rfind(':');
    if (first == std::string::npos || first == last) continue;
    std::string type = scope.substr(0, first), name = scope.substr(first + 1, last - first - 1);
    nlohmann::json granted = nlohmann::json::array();
    bool may_pull = !user.empty() || !name.starts_with("private/");
    std::string actions = scope.substr(last + 1);
    if (may_pull && actions.find("pull") != std::string::npos) granted.push_back("pull");
    if (!user.empty() && actions.find("push") != std::string::npos) granted.push_back("push");
    if (!user.empty() && type == "registry") granted.push_back("*");
    access.push_back({{"type", type}, {"name", name}, {"actions", granted}});
  }
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  nlohmann::json header = {{"typ", "JWT"}, {"alg", "RS256"}, {"kid", kid_}};
  nlohmann::json claims = {{"iss", issuer_},
                           {"sub", user},
                           {"aud", service_},
                           {"exp", now + 300},
                           {"nbf", now - 10},
                           {"iat", now},
                           {"jti", std::to_string(now) + user},
                           {"access", access}};
  std::string input = base64url(header.dump()) + "." + base64url(claims.dump());
  std::string jwt = input + "." + base64url(sign_rs256(key_, input));
  nlohmann::json body = {{"token", jwt}, {"access_token", jwt}, {"expires_in", 300}};
  return Reply{200, {{"Content-Type", "application/json"}}, body.dump()};
}

}  // namespace bw::test
