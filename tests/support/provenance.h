// Comparing what two scans found regardless of where the bytes came from.
#pragma once

#include <nlohmann/json.hpp>

namespace bw::test {

// `j` without the keys that name provenance (digests, media types, compression, sizes of the
// compressed form, times, the image reference), recursively: what remains is what was found.
nlohmann::json without_provenance(const nlohmann::json& j);

}  // namespace bw::test
