// JSON shapes of the API's resources (see schema/openapi.yaml).
#pragma once

#include "store/store.h"

#include <nlohmann/json.hpp>

namespace bw {

nlohmann::json scan_view(const ScanRecord& scan);
nlohmann::json layer_view(const LayerRecord& layer);
// The image with its layers in order and the merged view of notable files.
// `base_layers`: how many bottom layers the detected base holds (their origin is "base").
Result<nlohmann::json> image_view(const ImageRecord& image, Store& store, std::size_t base_layers);

// Scores and grades over time, one bucket per UTC day from `first_day` (YYYY-MM-DD) for `days`
// days: each image reference counts once per day, with its last result that day. Per image
// series are included when `per_image` (a repository's tags).
nlohmann::json trend_view(const std::vector<ScanResultRow>& rows, const std::string& first_day,
                          std::size_t days, bool per_image);

// The fleet's trend over the same buckets from the rows Store::fleet_days kept: each day as the
// last row at or before it stood (every image reference at its latest result so far).
nlohmann::json fleet_trend_view(const std::vector<FleetDay>& rows, const std::string& first_day,
                                std::size_t days);

}  // namespace bw
