// Where `bulwark harden --output` puts the image the daemon sends back as an OCI layout in a
// tar: left as that tar (oci-archive:FILE) or unpacked into a directory (oci:DIR), as skopeo,
// podman and buildah read them.
#pragma once

#include "common/error.h"

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

namespace bw::cli {

class OciOutput {
 public:
  // `where` is "oci:DIR" (DIR absent or empty) or "oci-archive:FILE". Errc::bad_request for
  // anything else or a DIR that holds files.
  static Result<OciOutput> open(const std::string& where);
  OciOutput(OciOutput&&) noexcept;
  OciOutput& operator=(OciOutput&&) noexcept;
  ~OciOutput();

  // A piece of the archive as it arrives; false when it cannot be written.
  bool write(std::string_view piece);
  // Once the whole archive arrived: FILE renamed into place, or DIR unpacked (only oci-layout,
  // index.json and blobs/sha256/<hex> entries, each blob checked against its name). On failure
  // nothing is left behind. Returns the reference a scan reads it by ("oci:DIR").
  Result<std::string> finish();

 private:
  OciOutput() = default;
  struct Close {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  bool directory_ = false;
  std::string path_;     // DIR or FILE
  std::string partial_;  // the archive being received
  std::unique_ptr<std::FILE, Close> file_;
};

}  // namespace bw::cli
