#include "api/views.h"

#include "layer/image_summary.h"
#include "layer/merge.h"

#include "common/time_util.h"

#include <chrono>
#include <map>
#include <set>

namespace bw {

using nlohmann::json;

json scan_view(const ScanRecord& s) {
  json j = {{"id", s.id},
            {"status", scan_status_name(s.status)},
            {"image", s.image},
            {"platform", s.platform},
            {"created_at", s.created_at}};
  auto progress = json::parse(s.progress.empty() ? "{}" : s.progress, nullptr, false);
  j["progress"] = progress.is_discarded() ? json::object() : progress;
  if (!s.manifest_digest.empty()) {
    j["manifest_digest"] = s.manifest_digest;
    if (s.status == ScanStatus::done) j["image_url"] = "/v1/images/" + s.manifest_digest;
  }
  if (!s.index_digest.empty()) j["index_digest"] = s.index_digest;
  if (!s.started_at.empty()) j["started_at"] = s.started_at;
  if (!s.finished_at.empty()) j["finished_at"] = s.finished_at;
  if (!s.error_code.empty()) j["error"] = {{"code", s.error_code}, {"message", s.error_message}};
  return j;
}

json layer_view(const LayerRecord& l) {
  json j = to_json(l.facts);
  j["digest"] = l.digest;
  j["media_type"] = l.media_type;
  j["analyzer_version"] = l.analyzer_version;
  j["analyzed_at"] = l.analyzed_at;
  return j;
}

Result<json> image_view(const ImageRecord& im, Store& store, std::size_t base_layers) {
  json layers = json::array();
  std::vector<SharedLayerRecord> records;
  records.reserve(im.layers.size());
  for (std::size_t i = 0; i < im.layers.size(); ++i) {
    auto& ref = im.layers[i];
    auto rec = store.get_layer(ref.digest);
    if (!rec) return rec.error();
    if (!*rec)
      return make_error(Errc::internal,
                        "image " + im.manifest_digest + " names missing layer " + ref.digest);
    const LayerFacts& f = (*rec)->facts;
    layers.push_back({{"position", i},
                      {"digest", ref.digest},
                      {"diff_id", ref.diff_id},
                      {"media_type", ref.media_type},
                      {"size", ref.size},
                      {"uncompressed_size", f.uncompressed_size},
                      {"entry_count", f.entry_count},
                      {"status", layer_status_name(f.status)},
                      {"origin", i < base_layers ? "base" : "app"}});
    records.push_back(std::move(*rec));
  }
  std::vector<const LayerFacts*> facts;
  for (auto& r : records) facts.push_back(&r->facts);
  json files = json::array();
  for (auto& m : merge_layers(facts)) {
    json f = to_json(*m.entry);
    f["layer_digest"] = im.layers[m.layer_index].digest;
    files.push_back(std::move(f));
  }
  std::vector<std::string> digests;
  for (auto& l : im.layers) digests.push_back(l.digest);
  json summary = summarize_image(facts, digests);  // the API's form of the summary
  std::string platform =
      im.os + "/" + im.architecture + (im.variant.empty() ? "" : "/" + im.variant);
  json out = {{"manifest_digest", im.manifest_digest},
              {"media_type", im.media_type},
              {"config_digest", im.config_digest},
              {"platform", platform},
              {"os", im.os},
              {"architecture", im.architecture},
              {"created", im.created},
              {"user", im.user},
              {"layers", std::move(layers)},
              {"files", std::move(files)}};
  for (auto& [k, v] : summary.items()) out[k] = v;
  return Result<json>(boost::system::in_place_value, std::move(out));
}

namespace {

// The UTC dates of a trend's buckets: `days` from `first_day` (YYYY-MM-DD).
std::vector<std::string> bucket_dates(const std::string& first_day, std::size_t days) {
  using namespace std::chrono;
  int y = std::stoi(first_day.substr(0, 4));
  unsigned m = static_cast<unsigned>(std::stoi(first_day.substr(5, 2)));
  unsigned d = static_cast<unsigned>(std::stoi(first_day.substr(8, 2)));
  sys_days day0 = year{y} / month{m} / d;
  std::vector<std::string> out;
  for (std::size_t i = 0; i < days; ++i)
    out.push_back(format_rfc3339(sys_time<seconds>(day0 + std::chrono::days(i))).substr(0, 10));
  return out;
}

// One day's bucket: how many images, the scans that day, images by grade, mean and lowest.
json bucket(const std::string& date, std::size_t images, std::size_t scans,
            const std::map<std::string, std::size_t>& grade_counts, std::int64_t score_sum,
            int min_score) {
  json grades = {{"A", 0}, {"B", 0}, {"C", 0}, {"D", 0}, {"F", 0}};
  for (auto& [grade, n] : grade_counts)
    if (grades.contains(grade)) grades[grade] = n;
  json b = {{"date", date}, {"images", images}, {"scans", scans}, {"grades", grades}};
  if (images > 0) {
    b["mean_score"] =
        std::round(10.0 * static_cast<double>(score_sum) / static_cast<double>(images)) / 10.0;
    b["min_score"] = min_score;
  }
  return b;
}

}  // namespace

json trend_view(const std::vector<ScanResultRow>& rows, const std::string& first_day,
                std::size_t days, bool per_image) {
  struct Latest {
    int score;
    std::string grade, digest;
  };
  // The fleet as it stood at the end of each day: each image reference's last result so far
  // within the window, so a day without scans still shows the state. The day's figures are
  // kept up to date as results replace each other (not recounted over every image each day):
  // the work is the rows', whatever the number of days.
  std::map<std::string, Latest> state;
  std::map<std::string, std::size_t> grade_counts;
  std::multiset<int> scores;
  std::int64_t total = 0;
  std::map<std::string, json> series;
  json buckets = json::array();
  std::size_t next = 0;
  const auto dates = bucket_dates(first_day, days);
  for (const std::string& date : dates) {
    std::size_t scanned = 0;
    for (; next < rows.size() && rows[next].finished_at.compare(0, 10, date) <= 0; ++next) {
      const auto& r = rows[next];
      auto [it, fresh] = state.try_emplace(r.image, Latest{r.score, r.grade, r.manifest_digest});
      if (!fresh) {
        --grade_counts[it->second.grade];
        scores.erase(scores.find(it->second.score));
        total -= it->second.score;
        it->second = {r.score, r.grade, r.manifest_digest};
      }
      ++grade_counts[r.grade];
      scores.insert(r.score);
      total += r.score;
      scanned += r.scans;
      if (per_image)
        series[r.image].push_back({{"date", date},
                                   {"score", r.score},
                                   {"grade", r.grade},
                                   {"manifest_digest", r.manifest_digest}});
    }
    buckets.push_back(bucket(date, state.size(), scanned, grade_counts, total,
                             scores.empty() ? -1 : *scores.begin()));
  }
  json out = {{"from", dates.empty() ? first_day : dates.front()}, {"days", std::move(buckets)}};
  if (per_image) {
    json images = json::array();
    for (auto& [image, points] : series) images.push_back({{"image", image}, {"points", points}});
    out["images"] = std::move(images);
  }
  return out;
}

json fleet_trend_view(const std::vector<FleetDay>& rows, const std::string& first_day,
                      std::size_t days) {
  json buckets = json::array();
  const FleetDay* standing = nullptr;
  std::size_t next = 0;
  const auto dates = bucket_dates(first_day, days);
  for (const std::string& date : dates) {
    for (; next < rows.size() && rows[next].day <= date; ++next) standing = &rows[next];
    if (!standing) {
      buckets.push_back(bucket(date, 0, 0, {}, 0, -1));
      continue;
    }
    buckets.push_back(bucket(date, standing->images, standing->day == date ? standing->scans : 0,
                             standing->grades, standing->score_sum, standing->min_score));
  }
  return {{"from", dates.empty() ? first_day : dates.front()}, {"days", std::move(buckets)}};
}

}  // namespace bw
