#include "common/digest.h"
#include "common/text.h"

#include <algorithm>
#include <ctime>
#include <mutex>
#include <optional>
#include <unordered_set>
#include "layer/decompress.h"
#include "layer/layer.h"
#include "layer/read_ahead.h"
#include "layer/tar_walk.h"

namespace bw {
namespace {

// Counts the bytes the layer's own source delivers and remembers whether it failed, so that a
// network or digest fault is told apart from a corrupt or hostile layer.
// Read on the read-ahead thread while the walk runs, and asked about on the walk's: the
// failure is kept under a lock. The count is read once the read-ahead has stopped.
class TrackingSource : public ByteSource {
 public:
  explicit TrackingSource(ByteSource& in) : in_(in) {}
  Result<std::size_t> read(char* buf, std::size_t n) override {
    auto r = in_.read(buf, n);
    if (!r) {
      std::lock_guard lock(mu_);
      failure_ = r.error();
    } else {
      count_ += *r;
    }
    return r;
  }
  std::uint64_t count() const { return count_; }
  std::optional<Error> failure() const {
    std::lock_guard lock(mu_);
    return failure_;
  }

 private:
  ByteSource& in_;
  std::uint64_t count_ = 0;
  mutable std::mutex mu_;
  std::optional<Error> failure_;  // guarded by mu_
};

// The CPU time this thread has used, in seconds.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Stops an analysis that was cancelled or has used its CPU time. Checked per entry and per
// read, so a hostile layer cannot keep a worker busy past either.
class Budget {
 public:
  Budget(double max_cpu_seconds, const std::atomic<bool>* cancel)
      : max_(max_cpu_seconds), cancel_(cancel), start_(thread_cpu_seconds()) {}
  // The layer's inflating runs on the read-ahead's thread: its CPU time counts too.
  void count_also(const ReadAheadSource& ahead) { ahead_ = &ahead; }
  std::optional<Error> exhausted() {
    if (cancel_ && cancel_->load(std::memory_order_relaxed))
      return make_error(Errc::cancelled, "analysis cancelled");
    // The clock is a system call: look at it every 64 checks.
    if (max_ > 0 && (++checks_ & 63) == 0 &&
        thread_cpu_seconds() - start_ + (ahead_ ? ahead_->reader_cpu_seconds() : 0) > max_)
      cpu_exceeded_ = true;
    if (cpu_exceeded_)
      return make_error(Errc::layer_limit_exceeded, "layer analysis used more than " +
                                                        std::to_string(max_) +
                                                        " s of CPU time (max_layer_cpu_s)");
    return std::nullopt;
  }
  bool cpu_exceeded() const { return cpu_exceeded_; }

 private:
  double max_;
  const std::atomic<bool>* cancel_;
  double start_;
  std::uint64_t checks_ = 0;
  bool cpu_exceeded_ = false;
  const ReadAheadSource* ahead_ = nullptr;
};

// Hashes and counts decompressed bytes, failing past the limit (decompression bombs).
class UncompressedSource : public ByteSource {
 public:
  UncompressedSource(ByteSource& in, std::uint64_t limit, Budget& budget)
      : in_(in), limit_(limit), budget_(budget) {}
  Result<std::size_t> read(char* buf, std::size_t n) override {
    if (limit_hit_) return limit_error();
    if (auto e = budget_.exhausted()) return *e;
    auto r = in_.read(buf, n);
    if (!r) return r;
    count_ += *r;
    if (count_ > limit_) {
      limit_hit_ = true;
      return limit_error();
    }
    hash_.update(buf, *r);
    return r;
  }
  std::uint64_t count() const { return count_; }
  bool limit_hit() const { return limit_hit_; }
  std::string diff_id() { return hash_.finish(); }
  Error limit_error() const {
    return make_error(Errc::layer_limit_exceeded, "layer decompresses to more than " +
                                                      std::to_string(limit_) +
                                                      " bytes (max_uncompressed_bytes)");
  }

 private:
  ByteSource& in_;
  std::uint64_t limit_;
  Budget& budget_;
  std::uint64_t count_ = 0;
  bool limit_hit_ = false;
  Sha256 hash_;
};

bool under(std::string_view path, std::string_view dir) {
  return path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/';
}

}  // namespace

std::uint64_t path_hash(std::string_view path) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : path) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string_view layer_status_name(LayerStatus s) {
  switch (s) {
    case LayerStatus::complete:
      return "complete";
    case LayerStatus::limit_exceeded:
      return "limit_exceeded";
    case LayerStatus::invalid:
      return "invalid";
    case LayerStatus::skipped:
      return "skipped";
  }
  return "invalid";
}

bool is_notable(const FileEntry& e) {
  // ".." in a layer path is a tar trick to write outside the root: record it, never follow it.
  if (e.path == ".." || e.path.starts_with("../") || e.path.find("/../") != std::string::npos)
    return true;
  if (e.kind == 'f' && (e.mode & 06000)) return true;  // setuid / setgid
  if (e.caps) return true;
  if (e.kind != 'l' && (e.mode & 0002) && !(e.kind == 'd' && (e.mode & 01000))) return true;
  std::string_view p = e.path;
  static constexpr std::string_view kDirs[] = {"etc",
                                               "bin",
                                               "sbin",
                                               "usr/bin",
                                               "usr/sbin",
                                               "usr/local/bin",
                                               "usr/local/sbin",
                                               "var/lib/dpkg",
                                               "lib/apk/db",
                                               "var/lib/rpm",
                                               "usr/lib/sysimage/rpm",
                                               "usr/lib/os-release",
                                               "root"};
  for (auto d : kDirs)
    if (p == d || under(p, d)) return true;
  std::string_view base = path_base_name(p);
  static constexpr std::string_view kNames[] = {".git",        ".aws",
                                                ".azure",      ".gcp",
                                                ".ssh",        ".docker",
                                                ".env",        ".netrc",
                                                ".npmrc",      ".pypirc",
                                                "id_rsa",      "id_dsa",
                                                "id_ecdsa",    "id_ed25519",
                                                "credentials", "credentials.json",
                                                "Dockerfile",  "docker-compose.yml"};
  for (auto n : kNames)
    if (base == n) return true;
  for (auto ext : {".pem", ".key", ".p12", ".pfx", ".jks", ".ovpn"})
    if (base.ends_with(ext)) return true;
  return false;
}

Result<LayerFacts> analyze_layer(ByteSource& blob, const LayerLimits& limits,
                                 const AnalyzeOptions& analysis, const std::atomic<bool>* cancel) {
  LayerFacts facts;
  facts.analyzer_versions = analyzer_versions(analysis);
  Budget budget(limits.max_cpu_seconds, cancel);
  TrackingSource raw(blob);
  auto fail_or = [&](LayerStatus status, std::string reason) -> std::optional<Error> {
    if (auto failed = raw.failure()) return failed;
    if (facts.status == LayerStatus::complete) {
      facts.status = status;
      facts.status_reason = std::move(reason);
    }
    return std::nullopt;
  };

  Compression kind = Compression::none;
  auto decompressed = open_decompressed(raw, kind);
  facts.compression = std::string(compression_name(kind));
  if (!decompressed) {
    if (auto e = fail_or(LayerStatus::invalid, decompressed.error().message)) return *e;
  } else {
    // Stopped (and joined) at the end of this block, before `raw` is drained below.
    ReadAheadSource ahead(**decompressed);
    budget.count_also(ahead);
    UncompressedSource tar(ahead, limits.max_uncompressed_bytes, budget);
    // Paths recorded so far, for hard links; bounded with the recorded entries themselves.
    std::unordered_set<std::string> recorded;
    std::size_t recorded_bytes = 0;
    std::optional<Error> stopped_by;
    auto walk = walk_tar(tar, limits.max_path_bytes, [&](const FileEntry& e, EntryBody& body) {
      if (auto stop = budget.exhausted()) {
        stopped_by = std::move(stop);
        return false;
      }
      if (facts.entry_count >= limits.max_entries) return false;
      ++facts.entry_count;
      std::string_view base = path_base_name(e.path);
      if (base.starts_with(".wh.")) {
        std::string_view dir = std::string_view(e.path).substr(0, e.path.size() - base.size());
        if (!dir.empty()) dir.remove_suffix(1);
        if (base == ".wh..wh..opq")
          facts.whiteouts.push_back({std::string(dir), true});
        else
          facts.whiteouts.push_back(
              {(dir.empty() ? "" : std::string(dir) + "/") + std::string(base.substr(4)), false});
        return true;
      }
      facts.path_hashes.push_back(path_hash(e.path));
      FileInfo info;
      if (std::size_t want = content_wanted(e.path, e.kind, e.mode, e.size, analysis)) {
        bool truncated = false;
        auto head = body.read(want, truncated);
        ReadLater later = [&](LaterRange r) {
          bool cut = false;
          auto bytes = body.read_at(r.offset, r.length, cut);
          return bytes ? std::move(*bytes) : std::string();
        };
        if (head)
          info = analyze_entry(EntryView{e.path, e.kind, e.mode, e.size}, *head, truncated,
                               analysis, &later);
      }
      info.tags = classify_path(e.path, e.kind, e.mode);
      // busybox's dpkg and rpm applets install no packages from a repository: not a package
      // manager (alpine's apk is a binary of its own).
      if (path_base_name(e.link) == "busybox") std::erase(info.tags, FileTag::package_manager);
      // A hard link to a notable file is as notable as its target (a second name for a setuid
      // binary).
      bool linked = e.kind == 'h' && recorded.count(e.link);
      if (is_notable(e) || !info.empty() || linked || analysis.record_all_entries) {
        // Facts hold what the layer holds, invalid UTF-8 included: measure them as stored.
        std::size_t bytes =
            64 + e.path.size() + e.link.size() +
            (info.empty() ? 0
                          : nlohmann::json(info)
                                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                                .size());
        if (facts.files.size() < limits.max_notable_entries &&
            recorded_bytes + bytes <= limits.max_notable_bytes) {
          recorded.insert(e.path);
          recorded_bytes += bytes;
          facts.files.push_back(e);
          facts.files.back().info = std::move(info);
        } else {
          ++facts.notable_dropped;
        }
      }
      return true;
    });
    if (cancel && cancel->load()) return make_error(Errc::cancelled, "analysis cancelled");
    if (walk && stopped_by) {
      // Out of CPU time: the rest of the stream is not inflated, only its digest verified.
      fail_or(LayerStatus::limit_exceeded, stopped_by->message);
    }
    if (!walk) {
      // The walk fails on a source error: ours (limits) or the layer's own (network).
      bool ours = tar.limit_hit() || budget.cpu_exceeded();
      if (auto e = fail_or(ours ? LayerStatus::limit_exceeded : LayerStatus::invalid,
                           walk.error().message))
        return *e;
    } else {
      facts.skipped_entries = walk->skipped;
      facts.entry_count += walk->skipped;
      if (walk->stopped && stopped_by)
        ;  // recorded above
      else if (walk->stopped)
        fail_or(
            LayerStatus::limit_exceeded,
            "layer has more than " + std::to_string(limits.max_entries) + " entries (max_entries)");
      else if (!walk->error.empty() && !(walk->entries == 0 && tar.count() == 0))
        fail_or(LayerStatus::invalid, "not a readable tar stream: " + walk->error);
    }
    // diff_id covers every decompressed byte, including padding after the end-of-archive marker.
    if (facts.status == LayerStatus::complete) {
      auto rest = drain(tar);
      if (!rest) {
        if (auto e = fail_or(tar.limit_hit() ? LayerStatus::limit_exceeded : LayerStatus::invalid,
                             rest.error().message))
          return *e;
      }
    }
    std::sort(facts.path_hashes.begin(), facts.path_hashes.end());
    facts.path_hashes.erase(std::unique(facts.path_hashes.begin(), facts.path_hashes.end()),
                            facts.path_hashes.end());
    facts.uncompressed_size = tar.count();
    if (facts.status == LayerStatus::complete) facts.diff_id = tar.diff_id();
    if (facts.notable_dropped > 0)
      fail_or(LayerStatus::limit_exceeded,
              std::to_string(facts.notable_dropped) + " notable entries not recorded: over " +
                  std::to_string(limits.max_notable_entries) + " entries or " +
                  std::to_string(limits.max_notable_bytes) +
                  " bytes of facts (max_notable_entries, max_notable_bytes)");
  }
  if (cancel && cancel->load()) return make_error(Errc::cancelled, "analysis cancelled");
  // Read the blob to its end so that its digest is verified whatever happened above.
  auto rest = drain(raw);
  if (!rest) return rest.error();
  facts.compressed_size = raw.count();
  return facts;
}

}  // namespace bw
