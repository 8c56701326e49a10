#include "common/metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

namespace bw::metrics {
namespace {

std::string_view type_name(Type t) {
  switch (t) {
    case Type::counter:
      return "counter";
    case Type::gauge:
      return "gauge";
    case Type::histogram:
      return "histogram";
  }
  return "untyped";
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void header(std::string& out, std::string_view name, std::string_view help, Type type) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type_name(type)).append("\n");
}

}  // namespace

const std::vector<double>& seconds_buckets() {
  static const std::vector<double> b = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                        2.5,   5,    10,    30,   60,  120,  300, 600};
  return b;
}

std::string label_set(const std::vector<std::string>& names,
                      const std::vector<std::string>& values) {
  if (names.empty()) return "";
  std::string out = "{";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i) out += ",";
    out += names[i] + "=\"";
    for (char c : i < values.size() ? values[i] : std::string()) {
      if (c == '\\' || c == '"')
        out += '\\', out += c;
      else if (c == '\n')
        out += "\\n";
      else
        out += c;
    }
    out += "\"";
  }
  return out + "}";
}

Family::Family(std::string name, std::string help, Type type, std::vector<std::string> labels,
               std::vector<double> buckets)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      labels_(std::move(labels)),
      bounds_(type == Type::histogram ? std::move(buckets) : std::vector<double>{}) {}

Family::Series& Family::series(const std::vector<std::string>& values) {
  auto [it, inserted] = series_.try_emplace(values);
  if (inserted) it->second.buckets.assign(bounds_.size(), 0);
  return it->second;
}

void Family::add(const std::vector<std::string>& values, double n) {
  std::lock_guard lock(mu_);
  series(values).value += n;
}

void Family::set(const std::vector<std::string>& values, double v) {
  std::lock_guard lock(mu_);
  series(values).value = v;
}

void Family::observe(const std::vector<std::string>& values, double v) {
  std::lock_guard lock(mu_);
  Series& s = series(values);
  s.value += v;
  ++s.count;
  for (std::size_t i = 0; i < bounds_.size(); ++i)
    if (v <= bounds_[i]) ++s.buckets[i];
}

double Family::value(const std::vector<std::string>& values) const {
  std::lock_guard lock(mu_);
  auto it = series_.find(values);
  if (it == series_.end()) return 0;
  return type_ == Type::histogram ? static_cast<double>(it->second.count) : it->second.value;
}

void Family::render(std::string& out) const {
  header(out, name_, help_, type_);
  std::lock_guard lock(mu_);
  auto all = series_;
  if (all.empty() && labels_.empty())
    all.try_emplace({}).first->second.buckets.assign(bounds_.size(), 0);
  for (auto& [values, s] : all) {
    if (type_ != Type::histogram) {
      out += name_ + label_set(labels_, values) + " " + number(s.value) + "\n";
      continue;
    }
    auto names = labels_;
    names.push_back("le");
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
      auto v = values;
      v.push_back(number(bounds_[i]));
      out += name_ + "_bucket" + label_set(names, v) + " " + std::to_string(s.buckets[i]) + "\n";
    }
    auto v = values;
    v.push_back("+Inf");
    out += name_ + "_bucket" + label_set(names, v) + " " + std::to_string(s.count) + "\n";
    out += name_ + "_sum" + label_set(labels_, values) + " " + number(s.value) + "\n";
    out += name_ + "_count" + label_set(labels_, values) + " " + std::to_string(s.count) + "\n";
  }
}

void render_sample(std::string& out, std::string_view name, std::string_view help, Type type,
                   double value, std::string_view labels) {
  header(out, name, help, type);
  out.append(name).append(labels).append(" ").append(number(value)).append("\n");
}

void render_process_metrics(std::string& out) {
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), {});
  // Fields after the command name, which may hold spaces: state is field 3.
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::vector<std::string> f((std::istream_iterator<std::string>(fields)), {});
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  auto field = [&](std::size_t n) {  // n as in proc(5), 1-based
    return n >= 3 && n - 3 < f.size() ? std::stod(f[n - 3]) : 0.0;
  };
  double boot = 0;
  std::ifstream proc_stat("/proc/stat");
  for (std::string line; std::getline(proc_stat, line);)
    if (line.starts_with("btime ")) boot = std::stod(line.substr(6));
  std::size_t open_fds = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++open_fds;
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  render_sample(out, "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.", Type::counter,
                (field(14) + field(15)) / tick);
  render_sample(out, "process_resident_memory_bytes", "Resident memory size in bytes.", Type::gauge,
                field(24) * page);
  render_sample(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", Type::gauge,
                field(23));
  render_sample(out, "process_open_fds", "Number of open file descriptors.", Type::gauge,
                static_cast<double>(open_fds));
  render_sample(out, "process_max_fds", "Maximum number of open file descriptors.", Type::gauge,
                static_cast<double>(lim.rlim_cur));
  render_sample(out, "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.", Type::gauge,
                boot + field(22) / tick);
}

}  // namespace bw::metrics
