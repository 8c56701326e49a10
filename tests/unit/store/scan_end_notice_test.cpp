#include "store/detail/scan_end_notice.h"

#include <doctest/doctest.h>

namespace bw {
namespace {

ScanRecord ended() {
  return ScanRecord{"scan_0123456789abcdef",
                    "reg.example/app:1",
                    "linux/amd64",
                    ScanStatus::done,
                    "sha256:" + std::string(64, 'a'),
                    "",
                    "",
                    "",
                    R"({"layers":[{"digest":"sha256:1","state":"analyzed"}]})",
                    "2026-12-07T10:00:00Z",
                    "2026-12-07T10:00:01Z",
                    "2026-12-07T10:00:02Z",
                    R"({"fail_under":70})",
                    R"({"score":81,"grade":"B","verdict":"pass","reasons":[]})",
                    "req-1 \"quoted\" \xc3\xa9"};
}

}  // namespace

TEST_CASE("scan end notice: the scan as it ended, read back field for field") {
  const ScanRecord s = ended();
  const std::string notice = detail::scan_end_notice(s);
  CHECK(notice.size() <= detail::kMaxScanEndNotice);
  auto end = detail::parse_scan_end_notice(notice);
  CHECK(end.id == s.id);
  REQUIRE(end.record);
  const ScanRecord& r = *end.record;
  CHECK(r.id == s.id);
  CHECK(r.image == s.image);
  CHECK(r.platform == s.platform);
  CHECK(r.status == ScanStatus::done);
  CHECK(r.manifest_digest == s.manifest_digest);
  CHECK(r.index_digest == s.index_digest);
  CHECK(r.error_code == s.error_code);
  CHECK(r.error_message == s.error_message);
  CHECK(r.progress == s.progress);
  CHECK(r.created_at == s.created_at);
  CHECK(r.started_at == s.started_at);
  CHECK(r.finished_at == s.finished_at);
  CHECK(r.policy == s.policy);
  CHECK(r.result == s.result);
  CHECK(r.request_id == s.request_id);
  ScanRecord failed = s;
  failed.status = ScanStatus::failed;
  failed.error_code = "manifest_unknown";
  failed.error_message = "manifest 1 not found";
  auto f = detail::parse_scan_end_notice(detail::scan_end_notice(failed));
  REQUIRE(f.record);
  CHECK(f.record->status == ScanStatus::failed);
  CHECK(f.record->error_message == "manifest 1 not found");
}

TEST_CASE("scan end notice: a record too long to announce is announced by its id alone") {
  ScanRecord s = ended();
  s.progress = "{\"layers\":[" + std::string(detail::kMaxScanEndNotice, ' ') + "]}";
  const std::string notice = detail::scan_end_notice(s);
  CHECK(notice == s.id);
  auto end = detail::parse_scan_end_notice(notice);
  CHECK(end.id == s.id);
  CHECK_FALSE(end.record);
}

TEST_CASE("scan end notice: a bare id, a scan not ended and a damaged notice carry no record") {
  // A cancel of a queued scan, or an older replica, announces the id alone.
  auto bare = detail::parse_scan_end_notice("scan_0123456789abcdef");
  CHECK(bare.id == "scan_0123456789abcdef");
  CHECK_FALSE(bare.record);
  // Only an end is final: a record in any other state is not kept as one.
  ScanRecord running = ended();
  running.status = ScanStatus::running;
  auto r = detail::parse_scan_end_notice(detail::scan_end_notice(running));
  CHECK(r.id == running.id);
  CHECK_FALSE(r.record);
  for (std::string damaged : {std::string("[\"scan-end/1\",\"x\"]"), std::string("[1,2,3"),
                              std::string("[\"scan-end/2\"") + std::string(15 * 4, ',') + "]",
                              std::string("[") + std::string(15, '1') + "]"}) {
    auto d = detail::parse_scan_end_notice(damaged);
    CHECK(d.id.empty());
    CHECK_FALSE(d.record);
  }
}

}  // namespace bw
