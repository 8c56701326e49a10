// Prometheus instruments: counters, gauges and histograms by label values, rendered in the
// text exposition format (0.0.4). Outcomes go in labels, never in names; durations are
// histograms in seconds. Thread-safe: each family has its own mutex, so workers observe while
// the io thread renders.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace bw::metrics {

enum class Type { counter, gauge, histogram };

// 5 ms to 10 minutes: API requests at the low end, layers and scans at the high end.
const std::vector<double>& seconds_buckets();

class Family {
 public:
  // `name` follows the conventions: a _total suffix for counters, a unit suffix (_seconds,
  // _bytes) otherwise. REQUIRES: every call passes as many label values as `labels` has names.
  Family(std::string name, std::string help, Type type, std::vector<std::string> labels = {},
         std::vector<double> buckets = seconds_buckets());
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  void add(const std::vector<std::string>& values, double n = 1);  // counters and gauges
  void set(const std::vector<std::string>& values, double v);      // gauges
  void observe(const std::vector<std::string>& values, double v);  // histograms

  // The value of one series (a histogram's count); 0 when it has none yet.
  double value(const std::vector<std::string>& values) const;

  // Appends HELP, TYPE and every series. A family without labels always shows its series (0 at
  // first), so that rate() works from the first scrape.
  void render(std::string& out) const;

 private:
  struct Series {
    double value = 0;  // counter or gauge value; histogram: the sum
    std::uint64_t count = 0;
    std::vector<std::uint64_t> buckets;
  };
  Series& series(const std::vector<std::string>& values);

  std::string name_, help_;
  Type type_;
  std::vector<std::string> labels_;
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, Series> series_;
};

// A sample with no family object behind it (a value read when rendering).
void render_sample(std::string& out, std::string_view name, std::string_view help, Type type,
                   double value, std::string_view labels = "");

// The standard process_* metrics of this process, read from /proc: CPU seconds, resident and
// virtual memory, open and maximum descriptors, start time.
void render_process_metrics(std::string& out);

// `{k="v",…}` with the values escaped as the format requires.
std::string label_set(const std::vector<std::string>& names,
                      const std::vector<std::string>& values);

}  // namespace bw::metrics
