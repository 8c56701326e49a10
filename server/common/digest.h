// SHA-256 helpers for content addressing ("sha256:<64 hex>").
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

namespace bw {

// Incremental SHA-256. Not thread-safe; cheap to move.
class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // Returns "sha256:<hex>". REQUIRES: called once; the hasher is spent afterwards.
  std::string finish();

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

std::string sha256_digest(std::string_view data);

// True for "sha256:" followed by 64 lowercase hex digits, or "sha512:" with 128.
bool is_valid_digest(std::string_view digest);

std::string to_hex(const unsigned char* data, std::size_t n);

// `bytes` random bytes from OpenSSL's CSPRNG, as lowercase hex (ids, request ids).
std::string random_hex(std::size_t bytes);

}  // namespace bw
