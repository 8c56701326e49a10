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

}  // namespace bw
