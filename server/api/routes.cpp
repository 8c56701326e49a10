#include "api/api.h"
#include "api/negotiate.h"
#include "api/registry_events.h"
#include "api/views.h"
#include "common/digest.h"
#include "common/embedded.h"
#include "common/log.h"
#include "common/text.h"
#include "common/time_util.h"
#include "harden/harden.h"
#include "layer/layer.h"
#include "notify/webhooks.h"
#include "score/policy.h"
#include "score/score.h"
#include "store/on_store.h"

#include <set>
#include <tuple>

#include <openssl/crypto.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <charconv>
#include <sstream>

namespace bw {

namespace ui_files {
// server/api/ui/*, embedded by the build.
std::span<const EmbeddedFile> files();
}  // namespace ui_files

namespace asio = boost::asio;
using asio::awaitable;
using nlohmann::json;

namespace {

ApiResponse json_response(int status, const json& body) {
  return ApiResponse{
      status, body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json", {}, {},
      {}};
}

ApiResponse not_found(std::string what) {
  return error_response(make_error(Errc::not_found, std::move(what)));
}

ApiResponse method_not_allowed(std::string_view allow) {
  auto r = error_response(
      make_error(Errc::method_not_allowed, "method not allowed; allowed: " + std::string(allow)));
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

struct Target {
  std::vector<std::string> segments;
  std::map<std::string, std::string> params;
};

Result<Target> parse_target(std::string_view target) {
  auto u = boost::urls::parse_origin_form(target);
  if (!u) return make_error(Errc::bad_request, "malformed request target");
  Target t;
  for (auto seg : u->segments()) t.segments.push_back(seg);
  for (auto p : u->params())
    // `limit=5&limit=6`: which one did the caller mean? Neither is guessed.
    if (!t.params.emplace(p.key, p.value).second)
      return make_error(Errc::bad_request,
                        "query parameter " + std::string(p.key).substr(0, 64) + " given twice");
  return t;
}

Result<std::chrono::milliseconds> wait_param(const Target& t, const ApiContext& ctx) {
  auto it = t.params.find("wait");
  if (it == t.params.end()) return std::chrono::milliseconds(0);
  double secs = 0;
  auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), secs);
  if (ec != std::errc() || p != it->second.data() + it->second.size() || secs < 0)
    return make_error(Errc::bad_request, "wait must be a number of seconds");
  secs = std::min(secs, static_cast<double>(ctx.config.api.max_wait.count()));
  return std::chrono::milliseconds(static_cast<std::int64_t>(secs * 1000));
}

// Runs `work` (parsing and merging stored facts, building a report, serialising a large
// answer) on the worker pool when there is one, so that the io thread serves other requests
// meanwhile: one dashboard polling a huge image must not stall everyone else.
template <class F>
awaitable<ApiResponse> off_io(ApiContext& ctx, F work) {
  if (!ctx.workers) co_return work();
  co_return co_await asio::co_spawn(
      *ctx.workers, [work = std::move(work)]() -> awaitable<ApiResponse> { co_return work(); },
      asio::use_awaitable);
}

// Whether scan_json() judges `s` from its stored report (reads the store and parses the report):
// a done scan stored before results were kept.
bool judged_from_report(const ScanRecord& s) {
  return s.status == ScanStatus::done && s.result.empty() && !s.manifest_digest.empty();
}

// The scan with its result as judged when it ended: score, grade, verdict and reasons, and the
// report link. Scans stored before results were kept are judged now, from their report: off the
// io thread (scan_answer()).
json scan_json(const ScanRecord& s, ApiContext& ctx) {
  json j = scan_view(s);
  if (s.status != ScanStatus::done) return j;
  json result = json::parse(s.result.empty() ? "{}" : s.result, nullptr, false);
  if (judged_from_report(s))
    if (auto report = ctx.reporter.get(s.manifest_digest); report && *report)
      result = to_json(judge_report(**report, s.policy, ctx.reporter.rules()));
  if (result.is_object())
    for (auto& [k, v] : result.items()) j[k] = v;
  if (!s.manifest_digest.empty() && j.contains("score"))
    j["report"] = "/v1/images/" + s.manifest_digest + "/report";
  return j;
}

// scan_json() as a response with `status`, on the worker pool when it reads the store.
awaitable<ApiResponse> scan_answer(int status, ScanRecord s, ApiContext& ctx) {
  if (!judged_from_report(s)) co_return json_response(status, scan_json(s, ctx));
  co_return co_await off_io(ctx, [&ctx, status, s = std::move(s)]() -> ApiResponse {
    return json_response(status, scan_json(s, ctx));
  });
}

awaitable<ApiResponse> post_scan(const ApiRequest& req, ApiContext& ctx) {
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded())
    co_return error_response(make_error(Errc::bad_request, "request body is not valid JSON"));
  if (!body.is_object())
    co_return error_response(make_error(Errc::bad_request, "request body must be a JSON object"));
  auto image = body.find("image");
  if (image == body.end() || !image->is_string())
    co_return error_response(
        make_error(Errc::bad_request, "\"image\" is required and must be a string"));
  ScanRequest sr{image->get<std::string>(), "", "", req.request_id};
  json policy = json::object();
  if (auto f = body.find("fail_under"); f != body.end() && !f->is_null()) {
    if (!f->is_number() || f->get<double>() < 0 || f->get<double>() > 100)
      co_return error_response(
          make_error(Errc::bad_request, "\"fail_under\" must be a score from 0 to 100"));
    policy["fail_under"] = f->get<int>();
  }
  if (auto f = body.find("fail_on"); f != body.end() && !f->is_null()) {
    static const std::vector<std::string> sev = {"info", "low", "medium", "high", "critical"};
    if (!f->is_string() || std::find(sev.begin(), sev.end(), f->get<std::string>()) == sev.end())
      co_return error_response(
          make_error(Errc::bad_request,
                     "\"fail_on\" must be a severity: info, low, medium, high or critical"));
    policy["fail_on"] = *f;
  }
  if (auto f = body.find("ignore"); f != body.end() && !f->is_null()) {
    if (!f->is_array() || std::any_of(f->begin(), f->end(), [](auto& x) { return !x.is_string(); }))
      co_return error_response(
          make_error(Errc::bad_request, "\"ignore\" must be a list of rule ids"));
    policy["ignore"] = *f;
  }
  if (!policy.empty()) sr.policy = policy.dump();
  if (auto p = body.find("platform"); p != body.end() && !p->is_null()) {
    if (!p->is_string())
      co_return error_response(make_error(Errc::bad_request, "\"platform\" must be a string"));
    sr.platform = p->get<std::string>();
  }
  std::chrono::milliseconds wait{0};
  if (auto w = body.find("wait"); w != body.end() && !w->is_null()) {
    if (!w->is_number() || w->get<double>() < 0)
      co_return error_response(
          make_error(Errc::bad_request, "\"wait\" must be a non-negative number of seconds"));
    double secs = std::min(w->get<double>(), static_cast<double>(ctx.config.api.max_wait.count()));
    wait = std::chrono::milliseconds(static_cast<std::int64_t>(secs * 1000));
  }
  auto scan = co_await ctx.scans.async_submit(sr);
  if (!scan) co_return error_response(scan.error());
  if (wait.count() > 0) {
    auto now = co_await ctx.scans.wait(scan->id, wait);
    if (now && *now && is_finished((*now)->status))
      co_return co_await scan_answer(200, std::move(**now), ctx);
  }
  auto r = json_response(202, json{{"id", scan->id},
                                   {"status", scan->status},
                                   {"image", scan->image},
                                   {"platform", scan->platform}});
  r.headers.emplace_back("Location", "/v1/scans/" + scan->id);
  co_return r;
}

// POST /v1/images/{digest}/harden: builds and pushes the image the plan's switch (or `onto`)
// recommends, then scans it; the answer sets the projected score beside the one measured. With
// "output": "oci-archive", the image is sent back as an OCI layout in a tar instead of pushed.
constexpr std::size_t kMaxSummaryHeader = 6 << 10;

awaitable<ApiResponse> post_harden(const std::string& digest, const ApiRequest& req,
                                   ApiContext& ctx) {
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object())
    co_return error_response(make_error(Errc::bad_request, "request body must be a JSON object"));
  HardenRequest hr;
  hr.manifest_digest = digest;
  std::string output;
  for (auto [key, field] : {std::pair{"push", &hr.push}, std::pair{"onto", &hr.onto},
                            std::pair{"image", &hr.image_ref}, std::pair{"output", &output}}) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) continue;
    if (!it->is_string())
      co_return error_response(
          make_error(Errc::bad_request, "\"" + std::string(key) + "\" must be a string"));
    *field = it->get<std::string>();
  }
  if (!output.empty() && output != "oci-archive")
    co_return error_response(
        make_error(Errc::bad_request,
                   "\"output\" can only be \"oci-archive\" (an OCI image layout in a tar)"));
  if (hr.push.empty() == output.empty())
    co_return error_response(
        make_error(Errc::bad_request,
                   "name one of \"push\" (the registry/repository:tag to push to) and "
                   "\"output\": \"oci-archive\" (the image sent back as an OCI layout)"));
  // A base named by reference (a team's own, in no catalog) is scanned first, as any image is,
  // and what it provides read from what was measured.
  if (hr.onto.find('/') != std::string::npos) {
    auto base = co_await ctx.scans.async_submit(ScanRequest{hr.onto, "", "", req.request_id});
    if (!base) co_return error_response(base.error());
    auto done = co_await ctx.scans.wait(base->id, ctx.config.api.max_wait);
    if (!done) co_return error_response(done.error());
    if (!*done || (*done)->status != ScanStatus::done) {
      std::string why = *done ? std::string(scan_status_name((*done)->status)) : "gone";
      if (*done && !(*done)->error_message.empty()) why += ": " + (*done)->error_message;
      co_return error_response(
          make_error(Errc::conflict, "the base " + hr.onto + " was not scanned (" + why + ")"));
    }
    hr.onto = (*done)->image;
    hr.onto_digest = (*done)->manifest_digest;
  }
  auto prepared = co_await prepare_harden(ctx.registry, ctx.reporter, ctx.workers, std::move(hr));
  if (!prepared) co_return error_response(prepared.error());
  if (!output.empty()) {
    // The image goes back to the caller, not to a registry: what it would answer as JSON rides
    // in a header, as the body is the archive.
    auto build = std::make_shared<HardenBuild>(std::move(*prepared));
    ApiResponse res;
    res.content_type = "application/x-tar";
    json summary = build->summary;
    // A header is no place for a long list: past a few KiB the paths are counted instead.
    if (summary.dump().size() > kMaxSummaryHeader) {
      summary["closure"]["paths_count"] = summary["closure"]["paths"].size();
      summary["closure"]["paths"] = json::array();
    }
    res.headers.emplace_back("Bulwark-Harden", summary.dump());
    res.stream = [build, &registry = ctx.registry](BlobSink out) -> awaitable<Result<void>> {
      co_return co_await write_oci_archive(registry, *build, std::move(out));
    };
    co_return res;
  }
  auto built = co_await push_harden(ctx.registry, *prepared);
  if (!built) co_return error_response(built.error());
  json out = std::move(*built);
  // The result, scanned as any image is: its score is what the projection promised.
  auto scan = co_await ctx.scans.async_submit(
      ScanRequest{out["image"].get<std::string>(), "", "", req.request_id});
  if (!scan) co_return error_response(scan.error());
  auto now = co_await ctx.scans.wait(scan->id, ctx.config.api.max_wait);
  out["scan"] = {{"id", scan->id}, {"status", scan_status_name(scan->status)}};
  if (now && *now) {
    out["scan"]["status"] = scan_status_name((*now)->status);
    if ((*now)->status == ScanStatus::done) {
      const std::string pushed = out["manifest_digest"];
      auto report = co_await off_io(ctx, [&ctx, pushed]() -> ApiResponse {
        auto r = ctx.reporter.get(pushed);
        if (!r) return error_response(r.error());
        if (!*r) return not_found("no image " + pushed);
        return json_response(200, **r);
      });
      json rep = json::parse(report.body, nullptr, false);
      if (report.status == 200 && rep.is_object()) {
        out["after"] = {{"score", rep["score"]}, {"grade", rep["grade"]}};
        out["as_projected"] = rep["score"] == out["projected"]["score"];
      }
    }
  }
  co_return json_response(201, out);
}

// Scan on push: each manifest pushed under a tag is queued by digest (the tag recorded as
// naming it), unless a scan of it is already queued or running. Always 202 for an envelope
// that parses, with what was queued and what not: a registry retries a refused notification
// forever.
awaitable<ApiResponse> registry_events(const ApiRequest& req, ApiContext& ctx) {
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded())
    co_return error_response(make_error(Errc::bad_request, "request body is not valid JSON"));
  auto events = parse_registry_events(body);
  if (!events) co_return error_response(events.error());
  json queued = json::array(), skipped = json::array();
  for (auto& push : events->pushes) {
    if (co_await ctx.scans.async_pending(push.image)) {
      skipped.push_back({{"image", push.image}, {"reason", "a scan of it is queued or running"}});
      continue;
    }
    auto scan = co_await ctx.scans.async_submit(ScanRequest{push.image, "", "", req.request_id});
    if (!scan)
      skipped.push_back({{"image", push.image}, {"reason", scan.error().message}});
    else
      queued.push_back({{"id", scan->id}, {"image", scan->image}});
  }
  co_return json_response(
      202, json{{"queued", queued}, {"skipped", skipped}, {"ignored", events->ignored}});
}

awaitable<ApiResponse> get_scan(const std::string& id, const Target& t, ApiContext& ctx) {
  auto wait = wait_param(t, ctx);
  if (!wait) co_return error_response(wait.error());
  if (!is_scan_id(id)) co_return not_found("no scan " + id.substr(0, 64));
  auto scan = co_await ctx.scans.async_get(id);
  if (!scan) co_return error_response(scan.error());
  if (!*scan) co_return not_found("no scan " + id);
  if (wait->count() > 0 && !is_finished((*scan)->status)) {
    scan = co_await ctx.scans.wait(id, *wait);
    if (!scan) co_return error_response(scan.error());
    if (!*scan) co_return not_found("no scan " + id);
  }
  co_return co_await scan_answer(200, std::move(**scan), ctx);
}

Result<std::size_t> number_param(const Target& t, const char* name, std::size_t fallback,
                                 std::size_t max) {
  auto it = t.params.find(name);
  if (it == t.params.end()) return fallback;
  std::size_t n = 0;
  auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), n);
  if (ec != std::errc() || p != it->second.data() + it->second.size() || n > max)
    return make_error(Errc::bad_request,
                      std::string(name) + " must be a number up to " + std::to_string(max));
  return n;
}

awaitable<ApiResponse> list_scans(const Target& t, ApiContext& ctx) {
  ScanQuery q;
  if (auto it = t.params.find("status"); it != t.params.end() && !it->second.empty()) {
    q.status = parse_scan_status(it->second);
    if (!q.status)
      co_return error_response(make_error(
          Errc::bad_request, "status must be one of queued, running, done, failed, cancelled"));
  }
  if (auto it = t.params.find("image"); it != t.params.end()) q.image = it->second;
  if (auto it = t.params.find("cursor"); it != t.params.end()) q.before_id = it->second;
  auto limit = number_param(t, "limit", 50, 500);
  if (!limit) co_return error_response(limit.error());
  if (*limit == 0)
    co_return error_response(make_error(Errc::bad_request, "limit must be 1 to 500"));
  q.limit = *limit;
  auto scans = co_await on_store(ctx.store_pool, [&] { return ctx.store.list_scans(q); });
  if (!scans) co_return error_response(scans.error());
  bool reads = false;
  for (auto& s : *scans) {
    // Progress of scans running here is this process's, newer than the row.
    if (auto live = ctx.scans.local(s.id)) s = std::move(*live);
    reads = reads || judged_from_report(s);
  }
  const bool more = scans->size() == q.limit;
  auto answer = [&ctx, more, scans = std::move(*scans)]() -> ApiResponse {
    json items = json::array();
    for (auto& s : scans) items.push_back(scan_json(s, ctx));
    json out = {{"scans", std::move(items)}};
    if (more) out["next_cursor"] = scans.back().id;
    return json_response(200, out);
  };
  if (!reads) co_return answer();
  co_return co_await off_io(ctx, std::move(answer));
}

std::string param(const Target& t, const char* name) {
  auto it = t.params.find(name);
  return it == t.params.end() ? std::string() : it->second;
}

// GET /v1/webhooks/deliveries: newest first; `state` pending, delivered or dead (what every
// attempt failed to deliver); `cursor` the next_cursor of the page before.
awaitable<ApiResponse> list_deliveries(const Target& t, ApiContext& ctx) {
  std::string state = param(t, "state");
  if (!state.empty() && state != "pending" && state != "delivered" && state != "dead")
    co_return error_response(
        make_error(Errc::bad_request, "state must be one of pending, delivered, dead"));
  auto before = number_param(t, "cursor", 0, 1'000'000'000'000);
  if (!before) co_return error_response(before.error());
  auto limit = number_param(t, "limit", 50, 500);
  if (!limit) co_return error_response(limit.error());
  if (*limit == 0)
    co_return error_response(make_error(Errc::bad_request, "limit must be 1 to 500"));
  auto rows = co_await on_store(ctx.store_pool, [&] {
    return ctx.store.list_deliveries(state, static_cast<std::int64_t>(*before), *limit);
  });
  if (!rows) co_return error_response(rows.error());
  json items = json::array();
  for (auto& d : *rows) items.push_back(to_json(d));
  json out = {{"deliveries", std::move(items)}};
  if (rows->size() == *limit) out["next_cursor"] = std::to_string(rows->back().id);
  co_return json_response(200, out);
}

// GET /v1/bases: the candidate bases advice projects onto, each with what it provides (from
// the catalog) and, once measured, the digest scanned, when, its grade and the rules its own
// facts trip: what a switch to it carries.
Result<json> list_bases(ApiContext& ctx) {
  json out = json::array();
  const std::string version = ctx.reporter.rules().version();
  for (auto& b : ctx.config.base_catalog) {
    const std::string id = b.value("id", "");
    json entry = {{"id", id},
                  {"golden", b.value("golden", false)},
                  {"image", b.value("image", "")},
                  {"risk", b.value("risk", 0)},
                  {"provides",
                   {{"libc", b.value("libc", "")},
                    {"shell", b.value("shell", false)},
                    {"bash", b.value("bash", false)},
                    {"package_manager", b.value("package_manager", false)},
                    {"runtime", b.value("runtime", "")},
                    {"entrypoint", b.value("entrypoint", std::vector<std::string>{})},
                    {"user", b.value("user", "")}}},
                  {"reference", nullptr},
                  {"measured", nullptr}};
    if (id == "scratch") {
      // Nothing to fetch: an image of no layers, measured as such.
      entry["measured"] = {{"layers", 0}, {"findings", json::object()}};
      out.push_back(std::move(entry));
      continue;
    }
    std::string reference;
    for (auto& [bid, ref] : ctx.config.base_references)
      if (bid == id) reference = ref;
    if (reference.empty()) {
      out.push_back(std::move(entry));
      continue;
    }
    entry["reference"] = reference;
    auto scans = ctx.store.list_scans(ScanQuery{ScanStatus::done, reference, 1, ""});
    if (!scans) return scans.error();
    json measured;
    if (!scans->empty() && !scans->front().manifest_digest.empty()) {
      const ScanRecord& last = scans->front();
      measured = {{"manifest_digest", last.manifest_digest},
                  {"measured_at", last.finished_at},
                  {"scan_id", last.id},
                  {"source", "scan"}};
    } else {
      for (auto& sb : ctx.snapshot_bases)
        if (sb.id == id && sb.reference == reference)
          measured = {{"manifest_digest", sb.manifest_digest},
                      {"measured_at", sb.measured_at},
                      {"source", "snapshot"},
                      {"measured_from", sb.measured_from}};
    }
    if (measured.is_null()) {
      out.push_back(std::move(entry));
      continue;
    }
    const std::string digest = measured["manifest_digest"];
    auto image = ctx.store.get_image(digest);
    if (!image) return image.error();
    if (*image) measured["layers"] = (*image)->layers.size();
    auto report = ctx.store.get_report(digest, version);
    if (!report) return report.error();
    if (*report) {
      json r = json::parse((*report)->report, nullptr, false);
      measured["score"] = (*report)->score;
      measured["grade"] = (*report)->grade;
      json rules = json::object();
      if (r.is_object() && r["findings"].is_array())
        for (auto& f : r["findings"])
          if (f.is_object() && !f.value("suppressed", false)) {
            std::string rule = f.value("rule_id", "");
            rules[rule] = rules.value(rule, 0) + 1 + f.value("more", 0);
          }
      measured["findings"] = std::move(rules);
    }
    entry["measured"] = std::move(measured);
    out.push_back(std::move(entry));
  }
  return json{{"measure", ctx.config.measure_bases}, {"bases", std::move(out)}};
}

// "YYYY-MM-DD", optionally followed by "T…": enough to compare with stored RFC 3339 times.
bool is_rfc3339_date_prefix(std::string_view v) {
  if (v.size() < 10 || (v.size() > 10 && v[10] != 'T') || v.size() > 35) return false;
  for (std::size_t i = 0; i < 10; ++i)
    if ((i == 4 || i == 7) ? v[i] != '-' : !std::isdigit(static_cast<unsigned char>(v[i])))
      return false;
  return true;
}

ApiResponse list_images(const Target& t, ApiContext& ctx) {
  ImageQuery q;
  q.ruleset_version = ctx.reporter.rules().version();
  q.registry = param(t, "registry");
  q.repository = param(t, "repository");
  q.grade = param(t, "grade");
  if (!q.grade.empty() &&
      (q.grade.size() != 1 || q.grade[0] < 'A' || q.grade[0] > 'F' || q.grade[0] == 'E'))
    return error_response(make_error(Errc::bad_request, "grade must be one of A, B, C, D, F"));
  q.search = param(t, "q");
  if (q.search.size() > 200)
    return error_response(make_error(Errc::bad_request, "q must be at most 200 bytes"));
  q.since = param(t, "since");
  if (!q.since.empty() && !is_rfc3339_date_prefix(q.since))
    return error_response(make_error(
        Errc::bad_request, "since must be an RFC 3339 date or time (2026-01-31[T12:00:00Z])"));
  if (auto s = param(t, "sort"); !s.empty()) {
    if (s != "score" && s != "-score" && s != "last_scanned" && s != "-last_scanned")
      return error_response(make_error(
          Errc::bad_request, "sort must be score, -score, last_scanned or -last_scanned"));
    q.sort = s;
  }
  auto limit = number_param(t, "limit", 50, 500);
  auto min = number_param(t, "min_score", 0, 100), max = number_param(t, "max_score", 100, 100);
  for (auto* r : {&limit, &min, &max})
    if (!*r) return error_response(r->error());
  if (*limit == 0) return error_response(make_error(Errc::bad_request, "limit must be 1 to 500"));
  q.limit = *limit;
  if (auto c = param(t, "cursor"); !c.empty() && !parse_image_cursor(c, q.sort, q))
    return error_response(make_error(
        Errc::bad_request, "cursor must be a next_cursor of this listing with the same sort"));
  q.min_score = t.params.count("min_score") ? static_cast<int>(*min) : -1;
  q.max_score = t.params.count("max_score") ? static_cast<int>(*max) : -1;
  auto rows = ctx.store.list_images(q);
  if (!rows) return error_response(rows.error());
  json items = json::array();
  for (auto& r : *rows) {
    json j = {{"manifest_digest", r.manifest_digest},
              {"platform", r.platform},
              {"last_scanned", r.last_scanned},
              {"url", "/v1/images/" + r.manifest_digest}};
    // Named by the tag only while that tag still names this image; else by repository and
    // digest, so that no row borrows the name of what a tag points to now.
    if (!r.repository.empty()) {
      j["repository"] = r.registry + "/" + r.repository;
      j["image"] =
          r.registry + "/" + r.repository + (r.tag.empty() ? "@" + r.manifest_digest : ":" + r.tag);
      if (!r.tag.empty()) j["tag"] = r.tag;
    }
    if (r.score >= 0) {
      j["score"] = r.score;
      j["grade"] = r.grade;
      auto counts = json::parse(r.severity_counts, nullptr, false);
      if (counts.is_object()) j["severity_counts"] = std::move(counts);
      auto top = json::parse(r.top_finding, nullptr, false);
      if (top.is_object()) j["top_finding"] = std::move(top);
    }
    items.push_back(std::move(j));
  }
  json out = {{"images", std::move(items)}};
  if (rows->size() == q.limit) out["next_cursor"] = image_cursor(rows->back(), q.sort);
  return json_response(200, out);
}

ApiResponse list_repositories(const Target& t, ApiContext& ctx) {
  auto limit = number_param(t, "limit", 100, 1000);
  auto offset = number_param(t, "cursor", 0, 100'000'000);
  if (!limit) return error_response(limit.error());
  if (!offset) return error_response(offset.error());
  // Zero rows would repeat the cursor forever to a client that pages.
  if (*limit == 0) return error_response(make_error(Errc::bad_request, "limit must be 1 to 1000"));
  auto rows = ctx.store.list_repositories(param(t, "registry"), *limit, *offset);
  if (!rows) return error_response(rows.error());
  json items = json::array();
  for (auto& r : *rows)
    items.push_back({{"registry", r.registry},
                     {"repository", r.repository},
                     {"tags", r.tags},
                     {"last_seen", r.last_seen},
                     {"url", "/v1/repositories/" + r.registry + "/" + r.repository + "/tags"}});
  json out = {{"repositories", std::move(items)}};
  if (rows->size() == *limit) out["next_cursor"] = std::to_string(*offset + *limit);
  return json_response(200, out);
}

ApiResponse list_repository_tags(const std::string& registry, const std::string& name,
                                 ApiContext& ctx) {
  auto rows = ctx.store.list_tags(registry, name, ctx.reporter.rules().version());
  if (!rows) return error_response(rows.error());
  if (rows->empty()) return not_found("no repository " + registry + "/" + name);
  json items = json::array();
  for (auto& r : *rows) {
    json j = {{"tag", r.tag},
              {"manifest_digest", r.manifest_digest},
              {"first_seen", r.first_seen},
              {"last_seen", r.last_seen}};
    if (r.score >= 0) {
      j["score"] = r.score;
      j["grade"] = r.grade;
    }
    items.push_back(std::move(j));
  }
  return json_response(
      200, json{{"registry", registry}, {"repository", name}, {"tags", std::move(items)}});
}

awaitable<ApiResponse> report_or_advice(const std::string& digest, bool advice_only,
                                        ApiContext& ctx) {
  if (!is_valid_digest(digest))
    co_return error_response(make_error(Errc::bad_request, "image digest must be sha256:<64 hex>"));
  co_return co_await off_io(ctx, [&ctx, digest, advice_only]() -> ApiResponse {
    auto report = ctx.reporter.get(digest);
    if (!report) return error_response(report.error());
    if (!*report) return not_found("no image " + digest);
    if (advice_only)
      return json_response(200, json{{"manifest_digest", digest},
                                     {"base", (**report)["base"]},
                                     {"recommendations", (**report)["recommendations"]},
                                     {"plan", (**report).value("plan", json::object())}});
    return json_response(200, **report);
  });
}

// GET /v1/images/{digest}/candidates: every candidate base judged for the image, where the
// report lists the best few switches that gain: what each would remove, keep and add, or why it
// cannot carry the app. Built on demand from the stored facts (not kept: a report is).
awaitable<ApiResponse> get_candidates(const std::string& digest, ApiContext& ctx) {
  if (!is_valid_digest(digest))
    co_return error_response(make_error(Errc::bad_request, "image digest must be sha256:<64 hex>"));
  co_return co_await off_io(ctx, [&ctx, digest]() -> ApiResponse {
    auto report = ctx.reporter.get(digest);
    if (!report) return error_response(report.error());
    if (!*report) return not_found("no image " + digest);
    auto judged = ctx.reporter.judge_candidates(digest, (**report).value("image", ""));
    if (!judged) return error_response(judged.error());
    (*judged)["manifest_digest"] = digest;
    (*judged)["base"] = (**report)["base"];
    (*judged)["score"] = (**report)["score"];
    return json_response(200, *judged);
  });
}

// GET /v1/suppressions: the API's list with when each was made, and the config's.
json suppressions_view(const std::vector<SuppressionRecord>& list, const Config& config) {
  json out = json::array();
  const auto now = std::chrono::system_clock::now();
  for (auto& x : list) {
    json j = to_json(suppression_of(x));
    j["created_at"] = x.created_at;
    if (suppression_expired(suppression_of(x), now)) j["expired"] = true;
    out.push_back(std::move(j));
  }
  json configured = json::array();
  for (auto& x : config.suppressions) {
    configured.push_back(to_json(x));
    if (suppression_expired(x, now)) configured.back()["expired"] = true;
  }
  return json{{"suppressions", out}, {"configured", configured}};
}

ApiResponse put_suppressions(const ApiRequest& req, ApiContext& ctx) {
  // The read, the If-Match check and the write as one step among this process's edits.
  std::lock_guard edit(ctx.suppressions_edit);
  auto old = ctx.store.list_suppressions();
  if (!old) return error_response(old.error());
  if (!req.if_match.empty()) {
    std::string current = etag_of(json_response(200, suppressions_view(*old, ctx.config)).body);
    if (!if_match_matches(req.if_match, current))
      return error_response(
          make_error(Errc::precondition_failed,
                     "the suppressions changed since the version named by If-Match (now " +
                         current + "); read them again and re-apply the edit"));
  }
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("suppressions") || !body["suppressions"].is_array())
    return error_response(make_error(
        Errc::bad_request,
        "body must be {\"suppressions\": [{\"rule_id\", \"path\"?, \"env_key\"?, \"image\"?, "
        "\"reason\"?, \"expires\"?}]}"));
  // Suppressions kept from before keep their creation time.
  std::map<std::tuple<std::string, std::string, std::string, std::string>, std::string> created;
  for (auto& x : *old) created[{x.rule_id, x.path, x.env_key, x.image}] = x.created_at;
  std::vector<SuppressionRecord> list;
  json echo = json::array();
  for (auto& x : body["suppressions"]) {
    auto sup = suppression_from_json(x);
    if (!sup) return error_response(sup.error());
    if (!ctx.reporter.rules().find(sup->rule_id))
      return error_response(make_error(Errc::bad_request, "unknown rule " + sup->rule_id));
    auto it = created.find({sup->rule_id, sup->path, sup->env_key, sup->image});
    list.push_back({sup->rule_id, sup->path, sup->env_key, sup->reason,
                    it == created.end() ? now_rfc3339() : it->second, sup->image, sup->expires});
    echo.push_back(to_json(*sup));
    echo.back()["created_at"] = list.back().created_at;
  }
  if (auto r = ctx.store.replace_suppressions(list); !r) return error_response(r.error());
  // The edit dropped every report: rebuild them (from stored facts) so that lists and stats
  // show scores again without waiting for each report to be read.
  if (ctx.workers)
    asio::post(*ctx.workers, [&reporter = ctx.reporter] {
      if (auto n = reporter.rescore_all(); !n)
        log::warn("re-scoring after a suppression edit stopped: " + n.error().message);
    });
  return json_response(200, json{{"suppressions", echo}});
}

ApiResponse metrics(ApiContext& ctx) {
  using metrics::Type;
  auto m = ctx.scans.metrics();
  auto& r = ctx.registry.stats();
  std::string o;
  auto sample = [&](std::string_view name, std::string_view help, double v,
                    Type type = Type::counter, std::string_view labels = "") {
    metrics::render_sample(o, name, help, type, v, labels);
  };
  sample("bulwark_build_info", "Build and rule versions; always 1.", 1, Type::gauge,
         metrics::label_set({"version", "analyzer_version", "ruleset_version"},
                            {std::string(kVersion), std::to_string(kAnalyzerVersion),
                             ctx.reporter.rules().version()}));
  sample("bulwark_scans_submitted_total", "Scans accepted.",
         static_cast<double>(m.scans_submitted));
  ctx.scans.telemetry().finished.render(o);
  ctx.scans.telemetry().duration.render(o);
  sample("bulwark_scans_queued", "Scans waiting to run in the queue every replica shares.",
         static_cast<double>(m.queued), Type::gauge);
  sample("bulwark_scans_running", "Scans running now.", static_cast<double>(m.running),
         Type::gauge);
  // The queue is the store's since replicas share it: the same count under the name the
  // autoscaling examples use, not counted a second time.
  sample("bulwark_store_scans_queued",
         "Scans queued in the store, every replica's (the fleet's queue depth).",
         static_cast<double>(m.queued), Type::gauge);
  sample("bulwark_layers_analyzed_total", "Layers fetched and analysed.",
         static_cast<double>(m.layers_analyzed));
  sample("bulwark_layer_cache_hits_total", "Layers whose stored facts were reused without a fetch.",
         static_cast<double>(m.layer_cache_hits));
  sample("bulwark_layer_shared_fetches_total", "Layers that joined a fetch already under way.",
         static_cast<double>(m.layer_shared_fetches));
  sample("bulwark_scan_end_notices_total",
         "Ends of scans other replicas ran, announced by the store (waits on them woken).",
         static_cast<double>(m.scan_end_notices));
  sample("bulwark_known_rescans_total",
         "Scans answered from a stored report after one manifest request (nothing else fetched).",
         static_cast<double>(m.known_rescans));
  sample("bulwark_unchanged_tags_total",
         "Registry-pass tags whose digest matched their last scan (one HEAD request, no scan).",
         static_cast<double>(m.unchanged_tags));
  ctx.scans.telemetry().layer_duration.render(o);
  r.requests.render(o);
  r.duration.render(o);
  r.errors.render(o);
  r.bytes.render(o);
  sample("bulwark_registry_retries_total",
         "Registry requests tried again (connection errors, 5xx, 429).",
         static_cast<double>(r.retries));
  ctx.http_metrics.requests.render(o);
  ctx.http_metrics.duration.render(o);
  sample("bulwark_http_accept_backoffs_total",
         "Times accepting connections paused because descriptors ran out.",
         static_cast<double>(ctx.http_metrics.accept_backoffs));
  sample("bulwark_http_requests_in_flight",
         "Requests read and not answered yet (this one included): long polls, and reads "
         "waiting on the store.",
         static_cast<double>(ctx.http_metrics.in_flight), Type::gauge);
  auto store = ctx.store.counters();
  sample("bulwark_store_layer_reads_total", "Layer facts documents read from the store.",
         static_cast<double>(store.layer_reads));
  sample("bulwark_store_layer_cache_hits_total",
         "Layer records a read found unchanged in the store's memory, so their facts were "
         "neither loaded nor parsed again.",
         static_cast<double>(store.layer_cache_hits));
  sample("bulwark_store_layer_writes_total", "Layer facts documents written to the store.",
         static_cast<double>(store.layer_writes));
  metrics::Family webhooks("bulwark_webhook_notifications_total",
                           "Webhook notifications by outcome: delivered, or failed after every "
                           "try.",
                           Type::counter, {"outcome"});
  webhooks.set({"delivered"}, ctx.webhooks ? static_cast<double>(ctx.webhooks->delivered()) : 0);
  webhooks.set({"failed"}, ctx.webhooks ? static_cast<double>(ctx.webhooks->failed()) : 0);
  webhooks.render(o);
  metrics::render_process_metrics(o);
  return ApiResponse{200, std::move(o), "text/plain; version=0.0.4; charset=utf-8", {}, {}, {}};
}

}  // namespace

ApiResponse error_response(const Error& e) {
  return ApiResponse{errc_http_status(e.code), e.to_json(), "application/json", {}, {}, {}};
}

namespace {

// The scope a /v1 route needs: reads, scans, or administration.
std::string scope_for(const std::string& method, const std::vector<std::string>& s) {
  if (method == "GET" || method == "HEAD") return "read";
  if (s.size() >= 2 && (s[1] == "scans" || s[1] == "registry-events")) return "scan";
  // It pushes images: a scope of its own, given to few.
  if (s.size() == 4 && s[1] == "images" && s[3] == "harden") return "harden";
  return "admin";
}

// With tokens configured, a /v1 call needs a Bearer token whose SHA-256 matches one, with the
// route's scope. Compared in constant time; tokens are never logged or echoed.
std::optional<Error> authorize(const ApiRequest& req, const std::vector<std::string>& segments,
                               const ApiContext& ctx) {
  const auto& tokens = ctx.config.api.tokens;
  if (tokens.empty() || segments.empty() || segments[0] != "v1") return std::nullopt;
  if (!req.authorization.starts_with("Bearer ") || req.authorization.size() <= 7)
    return make_error(Errc::unauthorized,
                      "this server needs an API token: Authorization: Bearer <token>");
  std::string hash = sha256_digest(std::string_view(req.authorization).substr(7)).substr(7);
  for (auto& t : tokens)
    if (t.sha256.size() == hash.size() &&
        CRYPTO_memcmp(t.sha256.data(), hash.data(), hash.size()) == 0) {
      std::string need = scope_for(req.method, segments);
      if (std::find(t.scopes.begin(), t.scopes.end(), need) != t.scopes.end()) return std::nullopt;
      return make_error(Errc::forbidden, "token " + t.name + " lacks the \"" + need + "\" scope");
    }
  return make_error(Errc::unauthorized, "unknown API token");
}

// A request matched to a route: its parsed target and the path's {parameters}.
struct Match {
  const ApiRequest& req;
  const Target& target;
  std::map<std::string, std::string> path;
  const std::string& at(const char* name) const { return path.at(name); }
};

using Handler = awaitable<ApiResponse> (*)(const Match&, ApiContext&);

struct Route {
  std::string_view method;
  // OpenAPI path template; "{name+}" takes one or more segments (a repository name has '/').
  std::string_view path;
  std::vector<std::string_view> query;  // the query parameters it accepts; others are a 400
  Handler run;
};

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    path.remove_prefix(1);  // '/'
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  if (out.size() == 1 && out[0].empty()) out.clear();  // "/"
  return out;
}

// Matches `segments` against a path template; fills the parameters.
bool match_path(std::string_view pattern, const std::vector<std::string>& segments,
                std::map<std::string, std::string>& params) {
  auto parts = split_path(pattern);
  std::size_t si = 0;
  for (std::size_t pi = 0; pi < parts.size(); ++pi) {
    std::string_view p = parts[pi];
    if (p.starts_with('{') && p.ends_with("+}")) {
      std::size_t rest = parts.size() - pi - 1;
      if (segments.size() < si + 1 + rest) return false;
      std::string joined;
      for (std::size_t n = segments.size() - rest; si < n; ++si)
        joined += (joined.empty() ? "" : "/") + segments[si];
      params[std::string(p.substr(1, p.size() - 3))] = joined;
      continue;
    }
    if (si >= segments.size()) return false;
    if (p.starts_with('{'))
      params[std::string(p.substr(1, p.size() - 2))] = segments[si];
    else if (p != segments[si])
      return false;
    ++si;
  }
  return si == segments.size();
}

// Routes whose answer is a function of the store, the ruleset, the day and the request alone.
bool is_store_view(std::string_view path) {
  for (std::string_view view :
       {"/v1/images", "/v1/repositories", "/v1/repositories/{registry}/{repository+}/tags",
        "/v1/stats", "/v1/trends", "/v1/suppressions"})
    if (path == view) return true;
  return false;
}

// Distinct request targets whose answers are kept; past it the cache starts again.
constexpr std::size_t kMaxCachedViews = 256;
// A trend reads every image's daily results in its window: while a registry pass writes all
// the time, dashboards polling it get an answer at most this old rather than each a new read.
constexpr std::chrono::seconds kTrendsMaxAge{10};

ApiResponse bad_digest(const char* what) {
  return error_response(
      make_error(Errc::bad_request, std::string(what) + " digest must be sha256:<64 hex>"));
}

// The built-in web UI's files (server/api/ui/), compiled into the binary.
ApiResponse ui_file(std::string_view name) {
  for (auto& f : ui_files::files())
    if (f.name == name) {
      std::string_view type = name.ends_with(".html")  ? "text/html; charset=utf-8"
                              : name.ends_with(".js")  ? "application/javascript; charset=utf-8"
                              : name.ends_with(".css") ? "text/css; charset=utf-8"
                              : name.ends_with(".svg") ? "image/svg+xml"
                                                       : "application/octet-stream";
      ApiResponse r{200, std::string(f.content), std::string(type), {}, {}, {}};
      // The page talks to this origin only; nothing it loads comes from elsewhere.
      r.headers.emplace_back("Content-Security-Policy",
                             "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
      r.headers.emplace_back("X-Content-Type-Options", "nosniff");
      return r;
    }
  return not_found("no file " + std::string(name).substr(0, 100));
}

ApiResponse trends(const Target& t, ApiContext& ctx) {
  std::string registry = param(t, "registry"), repository = param(t, "repository");
  if (!repository.empty() && registry.empty())
    return error_response(make_error(Errc::bad_request, "repository needs registry"));
  auto days = number_param(t, "days", 30, 366);
  if (!days) return error_response(days.error());
  if (*days == 0) return error_response(make_error(Errc::bad_request, "days must be 1 to 366"));
  auto since = std::chrono::system_clock::now() - std::chrono::hours(24 * (*days - 1));
  std::string from = format_rfc3339(since).substr(0, 10);
  // The whole fleet reads the rows kept per day; a registry or repository (far fewer images)
  // reads its images' daily results.
  if (registry.empty()) {
    auto rows = ctx.store.fleet_days(from);
    if (!rows) return error_response(rows.error());
    return json_response(200, fleet_trend_view(*rows, from, *days));
  }
  std::string prefix = registry + "/" + repository;
  auto rows = ctx.store.list_scan_results(from, prefix);
  if (!rows) return error_response(rows.error());
  return json_response(200, trend_view(*rows, from, *days, !repository.empty()));
}

const std::vector<Route>& routes() {
  static const std::vector<Route> table = {
      {"GET",
       "/",
       {},
       [](const Match&, ApiContext&) -> awaitable<ApiResponse> {
         co_return ui_file("index.html");
       }},
      {"GET",
       "/ui/{file}",
       {},
       [](const Match& m, ApiContext&) -> awaitable<ApiResponse> {
         co_return ui_file(m.at("file"));
       }},
      {"GET",
       "/openapi.yaml",
       {},
       [](const Match&, ApiContext&) -> awaitable<ApiResponse> {
         co_return ApiResponse{
             200, std::string(schema_files::get("openapi.yaml")), "application/yaml", {}, {}, {}};
       }},
      {"GET",
       "/healthz",
       {},
       [](const Match&, ApiContext&) -> awaitable<ApiResponse> {
         co_return json_response(200, json{{"status", "ok"}});
       }},
      {"GET",
       "/readyz",
       {},
       [](const Match&, ApiContext& ctx) -> awaitable<ApiResponse> {
         auto check =
             co_await on_store(ctx.store_pool, [&] { return ctx.store.schema_versions(); });
         if (!ctx.ready || !check)
           co_return error_response(
               make_error(Errc::unavailable, ctx.ready ? "store unavailable" : "not ready"));
         co_return json_response(200, json{{"status", "ready"},
                                           {"schema_version", check->empty() ? 0 : check->back()},
                                           {"rescoring", ctx.reporter.rescoring()}});
       }},
      {"GET",
       "/version",
       {},
       [](const Match&, ApiContext& ctx) -> awaitable<ApiResponse> {
         co_return json_response(200,
                                 json{{"version", kVersion},
                                      {"analyzer_version", kAnalyzerVersion},
                                      {"analyzers", analyzer_versions(ctx.config.scan.analysis)},
                                      {"ruleset_version", ctx.reporter.rules().version()}});
       }},
      {"GET",
       "/metrics",
       {},
       [](const Match&, ApiContext& ctx) -> awaitable<ApiResponse> { co_return metrics(ctx); }},
      {"POST",
       "/v1/scans",
       {},
       [](const Match& m, ApiContext& ctx) -> awaitable<ApiResponse> {
         co_return co_await post_scan(m.req, ctx);
       }},
      {"POST",
       "/v1/registry-events",
       {},
       [](const Match& m, ApiContext& ctx) -> awaitable<ApiResponse> {
         co_return co_await registry_events(m.req, ctx);
       }},
      {"GET",
       "/v1/scans",
       {"status", "image", "cursor", "limit"},
       [](const Match& m, ApiContext& ctx) -> awaitable<ApiResponse> {
         co_return co_await list_scans(m.target, ctx);
       }},
      {"GET",
       "/v1/scans/{id}",
       {"wait"},
       [](const Match& m, ApiContext& ctx) -> awaitable<ApiResponse> {
         co_return co_await get_scan(m.at("id"), m.target, ctx);
       }},
      {"DELETE",
       "/v1/scans/{id}",
       {},
       [](const Match& m, ApiContext& ctx) -> awaitable<ApiResponse> {
         const std::string& id = m.at("id");
         if (!is_scan_id(id)) co_return not_found("no scan " + id.substr(0, 64));
         auto r = co_await ctx.scans.async_cancel(id);
         if (!r) co_return error_response(r.error());
         co_return json_response(200, scan_view(*r));
       }},
      {"GET",
       "/v1/images",
       {"registry", "repository", "grade", "since", "sort", "limit", "cursor", "min_score",
        "max_score", "q"},
       [](const Match& m, ApiContext& ctx) -> awaitable<ApiResponse> {
         co_return co_await on_store(ctx.store_pool, [&] { return list_images(m.target, ctx); });
       }},
      {"GET",
       "/v1/images/{digest}",
       {},
       [](const Match& m, ApiContext& ctx) -> awaitable<ApiResponse> {
         const std::string digest = m.at("digest");
         if (!is_valid_digest(digest)) co_return bad_digest("image");
         co_return co_await off_io(ctx, [&ctx, digest]() -> ApiResponse {
           auto im = ctx.store.get_image(digest);
           if (!im) return error_response(im.error());
           if (!*im) return not_found("no image " + digest);
           // Layers below the detected base are the base's; without a report (an unscorable
           // image) every layer counts as the app's, as the report would count them.
           std::size_t base_layers = 0;
           if (auto report = ctx.reporter.get(digest); report && *report)
             base_layers = (**report)["base"].value("layers", std::size_t{0});
           auto view = image_view(**im, ctx.store, base_layers);
           if (!view) return error_response(view.error());
           return json_response(200, *view);
         });
       }},
      {"GET",
       "/v1/images/{digest}/report",
       {},
       [](const Match& m, ApiContext& ctx) -> awaitable<ApiResponse> {
         co_return co_await report_or_advice(m.at("digest"), false, ctx);
       }},
      {"POST",
       "/v1/images/{digest}/harden",
       {},
       [](const Match& m, ApiContext& ctx) -> awaitable<ApiResponse> {
         co_return co_await post_harden(m.at("digest"), m.req, ctx);
       }},
      {"GET",
       "/v1/images/{digest}/candidates",
       {},
       [](const Match& m, ApiContext& ctx) -> awaitable<ApiResponse> {
         co_return co_await get_candidates(m.at("digest"), ctx);
       }},
      {"GET",
       "/v1/images/{digest}/recommendations",
       {},
       [](const Match& m, ApiContext& ctx) -> awaitable<ApiResponse> {
         co_return co_await report_or_advice(m.at("digest"), true, ctx);
       }},
      {"GET",
       "/v1/rules",
       {},
       [](const Match&, ApiContext& ctx) -> awaitable<ApiResponse> {
         co_return json_response(200, to_json(ctx.reporter.rules()));
       }},
      {"GET",
       "/v1/suppressions",
       {},
       [](const Match&, ApiContext& ctx) -> awaitable<ApiResponse> {
         auto list =
             co_await on_store(ctx.store_pool, [&] { return ctx.store.list_suppressions(); });
         if (!list) co_return error_response(list.error());
         co_return json_response(200, suppressions_view(*list, ctx.config));
       }},
      {"PUT",
       "/v1/suppressions",
       {},
       [](const Match& m, ApiContext& ctx) -> awaitable<ApiResponse> {
         co_return co_await on_store(ctx.store_pool, [&] { return put_suppressions(m.req, ctx); });
       }},
      {"GET",
       "/v1/repositories",
       {"registry", "limit", "cursor"},
       [](const Match& m, ApiContext& ctx) -> awaitable<ApiResponse> {
         co_return co_await on_store(ctx.store_pool,
                                     [&] { return list_repositories(m.target, ctx); });
       }},
      {"GET",
       "/v1/repositories/{registry}/{repository+}/tags",
       {},
       [](const Match& m, ApiContext& ctx) -> awaitable<ApiResponse> {
         co_return co_await on_store(ctx.store_pool, [&] {
           return list_repository_tags(m.at("registry"), m.at("repository"), ctx);
         });
       }},
      {"GET",
       "/v1/schedules",
       {},
       [](const Match&, ApiContext& ctx) -> awaitable<ApiResponse> {
         co_return json_response(
             200, json{{"schedules", ctx.scheduler ? ctx.scheduler->status() : json::array()}});
       }},
      {"GET",
       "/v1/bases",
       {},
       [](const Match&, ApiContext& ctx) -> awaitable<ApiResponse> {
         auto bases = co_await on_store(ctx.store_pool, [&] { return list_bases(ctx); });
         if (!bases) co_return error_response(bases.error());
         co_return json_response(200, *bases);
       }},
      {"GET",
       "/v1/bases/snapshot",
       {},
       [](const Match&, ApiContext& ctx) -> awaitable<ApiResponse> {
         // What this daemon measured, for a daemon that cannot measure it (bases.snapshot).
         co_return co_await off_io(ctx, [&ctx]() -> ApiResponse {
           auto snapshot = export_base_snapshot(ctx.store, ctx.config.base_references);
           if (!snapshot) return error_response(snapshot.error());
           return json_response(200, *snapshot);
         });
       }},
      {"GET",
       "/v1/webhooks/deliveries",
       {"state", "cursor", "limit"},
       [](const Match& m, ApiContext& ctx) -> awaitable<ApiResponse> {
         co_return co_await list_deliveries(m.target, ctx);
       }},
      {"GET",
       "/v1/stats",
       {},
       [](const Match&, ApiContext& ctx) -> awaitable<ApiResponse> {
         auto version = ctx.reporter.rules().version();
         auto st = co_await on_store(ctx.store_pool, [&] { return ctx.store.stats(version); });
         if (!st) co_return error_response(st.error());
         auto sm = ctx.scans.metrics();
         (*st)["queue"] = {{"queued", sm.queued}, {"running", sm.running}};
         (*st)["ruleset_version"] = ctx.reporter.rules().version();
         co_return json_response(200, *st);
       }},
      {"GET",
       "/v1/trends",
       {"registry", "repository", "days"},
       [](const Match& m, ApiContext& ctx) -> awaitable<ApiResponse> {
         co_return co_await on_store(ctx.store_pool, [&] { return trends(m.target, ctx); });
       }},
      {"GET",
       "/v1/layers/{digest}",
       {},
       [](const Match& m, ApiContext& ctx) -> awaitable<ApiResponse> {
         const std::string digest = m.at("digest");
         if (!is_valid_digest(digest)) co_return bad_digest("layer");
         co_return co_await off_io(ctx, [&ctx, digest]() -> ApiResponse {
           auto l = ctx.store.get_layer(digest);
           if (!l) return error_response(l.error());
           if (!*l) return not_found("no layer " + digest);
           return json_response(200, layer_view(**l));
         });
       }},
  };
  return table;
}

awaitable<ApiResponse> dispatch(const ApiRequest& req, const Target& target, ApiContext& ctx) {
  const auto& s = target.segments;
  if (req.method == "OPTIONS") co_return preflight(req, ctx.config.api);
  if (auto denied = authorize(req, s, ctx)) {
    auto r = error_response(*denied);
    if (denied->code == Errc::unauthorized)
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"bulwark\"");
    co_return r;
  }
  const std::string method = req.method == "HEAD" ? "GET" : req.method;
  std::string allow;
  for (auto& r : routes()) {
    std::map<std::string, std::string> params;
    if (!match_path(r.path, s, params)) continue;
    if (r.method != method) {
      if (allow.find(r.method) == std::string::npos)
        allow += (allow.empty() ? "" : ", ") + std::string(r.method);
      continue;
    }
    for (auto& [name, value] : target.params)
      if (std::find(r.query.begin(), r.query.end(), name) == r.query.end())
        co_return error_response(make_error(
            Errc::bad_request,
            "unknown query parameter " + name.substr(0, 64) +
                (r.query.empty()
                     ? std::string("; this route takes none")
                     : "; allowed: " +
                           join(std::vector<std::string>(r.query.begin(), r.query.end()), ", "))));
    // Dashboards poll these: an answer built at the store's current generation is served
    // again without a query until the store changes.
    std::string generation;
    if (method == "GET" && is_store_view(r.path) &&
        req.cache_control.find("no-cache") == std::string::npos)
      if (auto g = ctx.store.generation()) {
        auto sm = ctx.scans.metrics();
        generation = *g + "|" + ctx.reporter.rules().version() + "|" + now_rfc3339().substr(0, 10) +
                     "|" + std::to_string(sm.running) + "|" + std::to_string(sm.queued);
        if (auto hit = ctx.views.find(req.target);
            hit != ctx.views.end() &&
            (hit->second.generation == generation ||
             (r.path == "/v1/trends" &&
              std::chrono::steady_clock::now() - hit->second.built < kTrendsMaxAge)))
          co_return hit->second.response;
      }
    auto res = co_await r.run(Match{req, target, std::move(params)}, ctx);
    res.route = r.path;
    if (!generation.empty() && res.status == 200) {
      if (ctx.views.size() >= kMaxCachedViews) ctx.views.clear();
      res.headers.emplace_back("ETag", etag_of(res.body));
      ctx.views[req.target] = {generation, res, std::chrono::steady_clock::now()};
    }
    co_return res;
  }
  if (!allow.empty()) {
    if (allow.find("GET") != std::string::npos) allow += ", HEAD";
    co_return method_not_allowed(allow);
  }
  co_return not_found("no route for " + req.method + " " + req.target.substr(0, 200));
}

}  // namespace

awaitable<ApiResponse> route(const ApiRequest& req, ApiContext& ctx) {
  auto target = parse_target(req.target);
  if (!target) co_return error_response(target.error());
  ApiResponse res = co_await dispatch(req, *target, ctx);
  co_await negotiate(req, res, ctx);
  co_return res;
}

std::vector<std::string> api_routes() {
  std::vector<std::string> out;
  for (auto& r : routes()) {
    std::string path(r.path);
    if (auto plus = path.find("+}"); plus != std::string::npos) path.erase(plus, 1);
    out.push_back(std::string(r.method) + " " + path);
  }
  return out;
}

}  // namespace bw
