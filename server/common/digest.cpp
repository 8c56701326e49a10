#include "common/digest.h"

#include <openssl/rand.h>

#include <stdexcept>

namespace bw {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("EVP sha256 init failed");
}

void Sha256::update(const void* data, std::size_t n) {
  EVP_DigestUpdate(ctx_.get(), data, n);
}

std::string Sha256::finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_.get(), md, &len);
  return "sha256:" + to_hex(md, len);
}

std::string sha256_digest(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.finish();
}

std::string to_hex(const unsigned char* data, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[data[i] >> 4];
    out[2 * i + 1] = kHex[data[i] & 0xf];
  }
  return out;
}

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return to_hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

bool is_valid_digest(std::string_view digest) {
  auto hex_ok = [](std::string_view h, std::size_t len) {
    if (h.size() != len) return false;
    for (char c : h)
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
  };
  if (digest.starts_with("sha256:")) return hex_ok(digest.substr(7), 64);
  if (digest.starts_with("sha512:")) return hex_ok(digest.substr(7), 128);
  return false;
}

}  // namespace bw
