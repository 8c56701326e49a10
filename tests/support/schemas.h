// The official SARIF and CycloneDX schemas, read from the conformance folder at test time
// (never copied into the project), and validation of a document against them.
#pragma once

#include <string>

namespace bw::test {

// $BULWARK_CONFORMANCE_DIR/schemas/NAME (or ../shared/conformance beside the source).
std::string schema_path(const std::string& name);

// Whether `file` validates against SARIF 2.1.0 / CycloneDX 1.5 (python3-jsonschema); `out`
// receives the validator's output.
bool sarif_valid(const std::string& file, std::string& out);
bool cyclonedx_valid(const std::string& file, std::string& out);

}  // namespace bw::test
