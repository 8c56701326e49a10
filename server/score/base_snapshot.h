// Measured candidate bases carried to a daemon that cannot measure them: one in an air-gapped
// network with no mirror, or one not allowed to reach the public registries. A snapshot is made
// from a daemon's own measurements (GET /v1/bases/snapshot, `bulwark bases --snapshot FILE`),
// never typed: each base as it was scanned, its manifest digest and when, its image record and
// every layer's facts. A daemon that loads one (`bases.snapshot`) stores those as a scan would,
// so a switch onto the base is projected by construction as if it had measured it itself.
#pragma once

#include "store/store.h"

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace bw {

inline constexpr const char* kSnapshotFormat = "bulwark-bases-snapshot/1";

// A base a snapshot provided: what GET /v1/bases lists for it where no scan of its own exists.
struct SnapshotBase {
  std::string id;
  std::string reference;      // the name this daemon knows the base by (mirror or catalog)
  std::string measured_from;  // what the producing daemon scanned
  std::string manifest_digest;
  std::string measured_at;
};

// Every base `references` (catalog id, reference scanned) names that a finished scan measured:
// {format, analyzer_version, produced_at, bases: [{id, reference, manifest_digest, measured_at,
// image: {media_type, config_digest, os, architecture, variant, created, user, config, manifest,
// layers: [{digest, media_type, size, diff_id}]}, layers: [{digest, media_type,
// analyzer_version, analyzed_at, facts}]}]}. Blocking: call it off the io thread.
Result<nlohmann::json> export_base_snapshot(
    Store& store, const std::vector<std::pair<std::string, std::string>>& references);

struct SnapshotImport {
  std::vector<SnapshotBase> imported;
  std::vector<std::string> skipped;  // "id: why"
};

// Stores each base of `snapshot` under the reference this daemon knows its id by
// (`references`): its layers' facts, its image and the reference image naming it, as a scan
// of it would have. A base this daemon has scanned itself is left as measured; one this daemon has
// no entry for, or whose facts another analyser version wrote (they would not equal a scan's), is
// skipped with the reason. Errc::bad_request for a document that is not a snapshot.
Result<SnapshotImport> import_base_snapshot(
    Store& store, const nlohmann::json& snapshot,
    const std::vector<std::pair<std::string, std::string>>& references);

}  // namespace bw
