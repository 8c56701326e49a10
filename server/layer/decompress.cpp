#include "layer/decompress.h"

#include <isa-l/igzip_lib.h>
#include <zstd.h>

#include <cstring>
#include <vector>

namespace bw {
namespace {

constexpr std::size_t kInBytes = 128 * 1024;

// Serves bytes already peeked at before those still in `inner`.
class PrefixedSource : public ByteSource {
 public:
  PrefixedSource(std::string prefix, ByteSource& inner)
      : prefix_(std::move(prefix)), inner_(inner) {}
  Result<std::size_t> read(char* buf, std::size_t n) override {
    if (pos_ < prefix_.size()) {
      std::size_t k = std::min(n, prefix_.size() - pos_);
      std::memcpy(buf, prefix_.data() + pos_, k);
      pos_ += k;
      return k;
    }
    return inner_.read(buf, n);
  }

 private:
  std::string prefix_;
  std::size_t pos_ = 0;
  ByteSource& inner_;
};

Error corrupt(std::string_view format, std::string_view why) {
  return make_error(Errc::unsupported_media_type,
                    "corrupt " + std::string(format) + " stream: " + std::string(why));
}

class GzipSource : public ByteSource {
 public:
  explicit GzipSource(std::unique_ptr<ByteSource> in) : in_(std::move(in)), buf_(kInBytes) {
    start_member();
  }

  Result<std::size_t> read(char* out, std::size_t n) override {
    if (done_) return std::size_t{0};
    n = std::min<std::size_t>(n, UINT32_MAX);
    state_.next_out = reinterpret_cast<uint8_t*>(out);
    state_.avail_out = static_cast<uint32_t>(n);
    while (state_.avail_out == n) {
      if (state_.block_state == ISAL_BLOCK_FINISH) {
        // Another member may follow; anything else after the last member is ignored, as
        // gzip -d does with trailing garbage.
        if (state_.avail_in == 0) {
          auto got = fill();
          if (!got) return got.error();
          if (*got == 0) return finish_stream();
        }
        if (state_.avail_in < 2 || state_.next_in[0] != 0x1f || state_.next_in[1] != 0x8b)
          return finish_stream();
        start_member();
        continue;
      }
      if (state_.avail_in == 0) {
        auto got = fill();
        if (!got) return got.error();
        if (*got == 0) return corrupt("gzip", "unexpected end of data");
      }
      int rc = isal_inflate(&state_);
      if (rc != ISAL_DECOMP_OK) return corrupt("gzip", "isal_inflate error " + std::to_string(rc));
    }
    return n - state_.avail_out;
  }

 private:
  // isal_inflate_init clears the buffer pointers too; the caller's must survive it.
  void start_member() {
    inflate_state keep = state_;
    isal_inflate_init(&state_);
    state_.crc_flag = ISAL_GZIP;
    state_.next_in = keep.next_in;
    state_.avail_in = keep.avail_in;
    state_.next_out = keep.next_out;
    state_.avail_out = keep.avail_out;
  }
  Result<std::size_t> fill() {
    auto got = in_->read(buf_.data(), buf_.size());
    if (!got) return got.error();
    state_.next_in = reinterpret_cast<uint8_t*>(buf_.data());
    state_.avail_in = static_cast<uint32_t>(*got);
    return *got;
  }
  Result<std::size_t> finish_stream() {
    done_ = true;
    auto rest = drain(*in_);
    if (!rest) return rest.error();
    return std::size_t{0};
  }

  std::unique_ptr<ByteSource> in_;
  std::vector<char> buf_;
  inflate_state state_{};
  bool done_ = false;
};

class ZstdSource : public ByteSource {
 public:
  explicit ZstdSource(std::unique_ptr<ByteSource> in)
      : in_(std::move(in)), buf_(ZSTD_DStreamInSize()), ctx_(ZSTD_createDCtx()) {
    // Bound the window a hostile frame may ask us to allocate (libzstd default is 128 MiB).
    ZSTD_DCtx_setParameter(ctx_.get(), ZSTD_d_windowLogMax, 27);
  }

  Result<std::size_t> read(char* out, std::size_t n) override {
    ZSTD_outBuffer ob{out, n, 0};
    while (ob.pos == 0) {
      if (input_.pos == input_.size) {
        auto got = in_->read(buf_.data(), buf_.size());
        if (!got) return got.error();
        if (*got == 0) {
          if (!frame_ended_) return corrupt("zstd", "unexpected end of data");
          return std::size_t{0};
        }
        input_ = ZSTD_inBuffer{buf_.data(), *got, 0};
      }
      std::size_t rc = ZSTD_decompressStream(ctx_.get(), &ob, &input_);
      if (ZSTD_isError(rc)) return corrupt("zstd", ZSTD_getErrorName(rc));
      frame_ended_ = rc == 0;
    }
    return ob.pos;
  }

 private:
  struct Free {
    void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
  };
  std::unique_ptr<ByteSource> in_;
  std::vector<char> buf_;
  std::unique_ptr<ZSTD_DCtx, Free> ctx_;
  ZSTD_inBuffer input_{nullptr, 0, 0};
  bool frame_ended_ = false;
};

}  // namespace

std::string_view compression_name(Compression c) {
  switch (c) {
    case Compression::none:
      return "none";
    case Compression::gzip:
      return "gzip";
    case Compression::zstd:
      return "zstd";
  }
  return "none";
}

Result<std::unique_ptr<ByteSource>> open_decompressed(ByteSource& compressed,
                                                      Compression& detected) {
  std::string magic(4, '\0');
  std::size_t have = 0;
  while (have < magic.size()) {
    auto n = compressed.read(magic.data() + have, magic.size() - have);
    if (!n) return n.error();
    if (*n == 0) break;
    have += *n;
  }
  magic.resize(have);
  auto prefixed = std::make_unique<PrefixedSource>(magic, compressed);
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(magic[i]); };
  if (have >= 2 && byte(0) == 0x1f && byte(1) == 0x8b) {
    detected = Compression::gzip;
    return std::unique_ptr<ByteSource>(std::make_unique<GzipSource>(std::move(prefixed)));
  }
  if (have >= 4 && byte(0) == 0x28 && byte(1) == 0xb5 && byte(2) == 0x2f && byte(3) == 0xfd) {
    detected = Compression::zstd;
    return std::unique_ptr<ByteSource>(std::make_unique<ZstdSource>(std::move(prefixed)));
  }
  detected = Compression::none;
  return std::unique_ptr<ByteSource>(std::move(prefixed));
}

}  // namespace bw
