#include "api/api.h"
#include "api/views.h"
#include "common/digest.h"
#include "layer/layer.h"
#include "score/policy.h"

#include <set>

#include <openssl/crypto.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <charconv>
#include <sstream>

namespace bw {

namespace asio = boost::asio;
using asio::awaitable;
using nlohmann::json;

namespace {

ApiResponse json_response(int status, const json& body) {
  return ApiResponse{
      status, body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json", {}};
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
  for (auto p : u->params()) t.params[p.key] = p.value;
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

// The scan with its result as judged when it ended: score, grade, verdict and reasons, and the
// report link. Scans stored before results were kept are judged now, from their report.
json scan_json(const ScanRecord& s, ApiContext& ctx) {
  json j = scan_view(s);
  if (s.status != ScanStatus::done) return j;
  json result = json::parse(s.result.empty() ? "{}" : s.result, nullptr, false);
  if (s.result.empty() && !s.manifest_digest.empty())
    if (auto report = ctx.reporter.get(s.manifest_digest); report && *report)
      result = to_json(judge_report(**report, s.policy, ctx.reporter.rules()));
  if (result.is_object())
    for (auto& [k, v] : result.items()) j[k] = v;
  if (!s.manifest_digest.empty() && j.contains("score"))
    j["report"] = "/v1/images/" + s.manifest_digest + "/report";
  return j;
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
  ScanRequest sr{image->get<std::string>(), "", ""};
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
  auto scan = ctx.scans.submit(sr);
  if (!scan) co_return error_response(scan.error());
  if (wait.count() > 0) {
    co_await ctx.scans.wait(scan->id, wait);
    auto now = ctx.scans.get(scan->id);
    if (now && *now && is_finished((*now)->status))
      co_return json_response(200, scan_json(**now, ctx));
  }
  auto r = json_response(202, json{{"id", scan->id},
                                   {"status", scan->status},
                                   {"image", scan->image},
                                   {"platform", scan->platform}});
  r.headers.emplace_back("Location", "/v1/scans/" + scan->id);
  co_return r;
}

awaitable<ApiResponse> get_scan(const std::string& id, const Target& t, ApiContext& ctx) {
  if (!is_scan_id(id)) co_return not_found("no scan " + id.substr(0, 64));
  auto wait = wait_param(t, ctx);
  if (!wait) co_return error_response(wait.error());
  auto scan = ctx.scans.get(id);
  if (!scan) co_return error_response(scan.error());
  if (!*scan) co_return not_found("no scan " + id);
  if (wait->count() > 0 && !is_finished((*scan)->status)) {
    co_await ctx.scans.wait(id, *wait);
    scan = ctx.scans.get(id);
    if (!scan) co_return error_response(scan.error());
    if (!*scan) co_return not_found("no scan " + id);
  }
  co_return json_response(200, scan_json(**scan, ctx));
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

ApiResponse list_scans(const Target& t, ApiContext& ctx) {
  ScanQuery q;
  if (auto it = t.params.find("status"); it != t.params.end() && !it->second.empty()) {
    q.status = parse_scan_status(it->second);
    if (!q.status)
      return error_response(make_error(
          Errc::bad_request, "status must be one of queued, running, done, failed, cancelled"));
  }
  if (auto it = t.params.find("image"); it != t.params.end()) q.image = it->second;
  if (auto it = t.params.find("cursor"); it != t.params.end()) q.before_id = it->second;
  auto limit = number_param(t, "limit", 50, 500);
  if (!limit) return error_response(limit.error());
  if (*limit == 0) return error_response(make_error(Errc::bad_request, "limit must be 1 to 500"));
  q.limit = *limit;
  auto scans = ctx.store.list_scans(q);
  if (!scans) return error_response(scans.error());
  json items = json::array();
  for (auto& s : *scans) {
    auto live = ctx.scans.get(s.id);
    items.push_back(scan_json(live && *live ? **live : s, ctx));
  }
  json out = {{"scans", std::move(items)}};
  if (scans->size() == q.limit) out["next_cursor"] = scans->back().id;
  return json_response(200, out);
}

std::string param(const Target& t, const char* name) {
  auto it = t.params.find(name);
  return it == t.params.end() ? std::string() : it->second;
}

ApiResponse list_images(const Target& t, ApiContext& ctx) {
  ImageQuery q;
  q.ruleset_version = ctx.reporter.rules().version();
  q.registry = param(t, "registry");
  q.repository = param(t, "repository");
  q.grade = param(t, "grade");
  q.since = param(t, "since");
  if (auto s = param(t, "sort"); !s.empty()) {
    if (s != "score" && s != "-score" && s != "last_scanned" && s != "-last_scanned")
      return error_response(make_error(
          Errc::bad_request, "sort must be score, -score, last_scanned or -last_scanned"));
    q.sort = s;
  }
  auto limit = number_param(t, "limit", 50, 500);
  auto offset = number_param(t, "cursor", 0, 100'000'000);
  auto min = number_param(t, "min_score", 0, 100), max = number_param(t, "max_score", 100, 100);
  for (auto* r : {&limit, &offset, &min, &max})
    if (!*r) return error_response(r->error());
  if (*limit == 0) return error_response(make_error(Errc::bad_request, "limit must be 1 to 500"));
  q.limit = *limit;
  q.offset = *offset;
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
    if (!r.repository.empty()) j["image"] = r.registry + "/" + r.repository + ":" + r.tag;
    if (r.score >= 0) {
      j["score"] = r.score;
      j["grade"] = r.grade;
    }
    items.push_back(std::move(j));
  }
  json out = {{"images", std::move(items)}};
  if (rows->size() == q.limit) out["next_cursor"] = std::to_string(q.offset + q.limit);
  return json_response(200, out);
}

ApiResponse list_repositories(const Target& t, ApiContext& ctx) {
  auto limit = number_param(t, "limit", 100, 1000);
  auto offset = number_param(t, "cursor", 0, 100'000'000);
  if (!limit) return error_response(limit.error());
  if (!offset) return error_response(offset.error());
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

ApiResponse list_repository_tags(const std::vector<std::string>& s, ApiContext& ctx) {
  // /v1/repositories/{registry}/{name…}/tags: the name may contain '/'.
  std::string registry = s[2], name;
  for (std::size_t i = 3; i + 1 < s.size(); ++i) name += (name.empty() ? "" : "/") + s[i];
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

ApiResponse metrics(ApiContext& ctx) {
  auto m = ctx.scans.metrics();
  auto& r = ctx.registry.stats();
  std::ostringstream o;
  auto counter = [&](std::string_view name, std::string_view help, std::uint64_t v,
                     std::string_view type = "counter") {
    o << "# HELP bulwark_" << name << " " << help << "\n# TYPE bulwark_" << name << " " << type
      << "\nbulwark_" << name << " " << v << "\n";
  };
  counter("scans_submitted_total", "Scans accepted.", m.scans_submitted);
  counter("scans_done_total", "Scans finished successfully.", m.scans_done);
  counter("scans_failed_total", "Scans that ended failed.", m.scans_failed);
  counter("scans_cancelled_total", "Scans cancelled by request.", m.scans_cancelled);
  counter("scans_queued", "Scans waiting to run.", m.queued, "gauge");
  counter("scans_running", "Scans running now.", m.running, "gauge");
  counter("layers_analyzed_total", "Layers fetched and analysed.", m.layers_analyzed);
  counter("layer_cache_hits_total", "Layers whose stored facts were reused without a fetch.",
          m.layer_cache_hits);
  counter("layer_shared_fetches_total", "Layers that joined a fetch already under way.",
          m.layer_shared_fetches);
  counter("known_rescans_total",
          "Scans answered from a stored report after one manifest request (nothing else fetched).",
          m.known_rescans);
  counter("registry_manifest_fetches_total", "Manifest requests sent to registries.",
          r.manifest_fetches);
  counter("registry_blob_fetches_total", "Blob requests (configs and layers) sent to registries.",
          r.blob_fetches);
  counter("registry_blob_bytes_total", "Blob bytes received from registries.", r.blob_bytes);
  counter("http_requests_total", "API requests answered.", ctx.http_metrics.requests);
  counter("http_responses_4xx_total", "API responses with a 4xx status.",
          ctx.http_metrics.responses_4xx);
  counter("http_responses_5xx_total", "API responses with a 5xx status.",
          ctx.http_metrics.responses_5xx);
  counter("registry_retries_total", "Registry requests tried again (connection errors, 5xx, 429).",
          r.retries);
  counter("registry_token_fetches_total", "Bearer tokens requested from token services.",
          r.token_fetches);
  auto store = ctx.store.counters();
  counter("store_layer_reads_total", "Layer facts documents read from the store.",
          store.layer_reads);
  counter("store_layer_writes_total", "Layer facts documents written to the store.",
          store.layer_writes);
  counter("webhook_deliveries_total", "Webhook notifications delivered.",
          ctx.webhooks ? ctx.webhooks->delivered() : 0);
  counter("webhook_failures_total", "Webhook notifications abandoned after every try.",
          ctx.webhooks ? ctx.webhooks->failed() : 0);
  counter("http_accept_backoffs_total",
          "Times accepting connections paused because descriptors ran out.",
          ctx.http_metrics.accept_backoffs);
  return ApiResponse{200, o.str(), "text/plain; version=0.0.4", {}};
}

}  // namespace

ApiResponse error_response(const Error& e) {
  return ApiResponse{errc_http_status(e.code), e.to_json(), "application/json", {}};
}

namespace {

// The scope a /v1 route needs: reads, scans, or administration.
std::string scope_for(const std::string& method, const std::vector<std::string>& s) {
  if (method == "GET" || method == "HEAD") return "read";
  if (s.size() >= 2 && s[1] == "scans") return "scan";
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

}  // namespace

awaitable<ApiResponse> route(const ApiRequest& req, ApiContext& ctx) {
  auto target = parse_target(req.target);
  if (!target) co_return error_response(target.error());
  const auto& s = target->segments;
  const std::string& m = req.method;
  if (auto denied = authorize(req, s, ctx)) {
    auto r = error_response(*denied);
    if (denied->code == Errc::unauthorized)
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"bulwark\"");
    co_return r;
  }
  auto is = [&](std::initializer_list<std::string_view> parts) {
    if (s.size() != parts.size()) return false;
    std::size_t i = 0;
    for (auto p : parts) {
      if (p != "*" && s[i] != p) return false;
      ++i;
    }
    return true;
  };

  if (is({"healthz"})) {
    if (m != "GET" && m != "HEAD") co_return method_not_allowed("GET");
    co_return json_response(200, json{{"status", "ok"}});
  }
  if (is({"readyz"})) {
    if (m != "GET" && m != "HEAD") co_return method_not_allowed("GET");
    auto check = ctx.store.schema_versions();
    if (!ctx.ready || !check)
      co_return error_response(
          make_error(Errc::unavailable, ctx.ready ? "store unavailable" : "not ready"));
    co_return json_response(200, json{{"status", "ready"},
                                      {"schema_version", check->empty() ? 0 : check->back()},
                                      {"rescoring", ctx.reporter.rescoring()}});
  }
  if (is({"version"})) {
    if (m != "GET") co_return method_not_allowed("GET");
    co_return json_response(200, json{{"version", kVersion},
                                      {"analyzer_version", kAnalyzerVersion},
                                      {"analyzers", analyzer_versions(ctx.config.scan.analysis)},
                                      {"ruleset_version", ctx.reporter.rules().version()}});
  }
  if (is({"metrics"})) {
    if (m != "GET") co_return method_not_allowed("GET");
    co_return metrics(ctx);
  }
  if (is({"v1", "scans"})) {
    if (m == "POST") co_return co_await post_scan(req, ctx);
    if (m == "GET") co_return list_scans(*target, ctx);
    co_return method_not_allowed("GET, POST");
  }
  if (is({"v1", "scans", "*"})) {
    const std::string& id = s[2];
    if (m == "GET") co_return co_await get_scan(id, *target, ctx);
    if (m == "DELETE") {
      if (!is_scan_id(id)) co_return not_found("no scan " + id.substr(0, 64));
      auto r = ctx.scans.cancel(id);
      if (!r) co_return error_response(r.error());
      co_return json_response(200, scan_view(*r));
    }
    co_return method_not_allowed("GET, DELETE");
  }
  if (is({"v1", "images", "*"})) {
    if (m != "GET") co_return method_not_allowed("GET");
    const std::string& digest = s[2];
    if (!is_valid_digest(digest))
      co_return error_response(
          make_error(Errc::bad_request, "image digest must be sha256:<64 hex>"));
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
  }
  if (is({"v1", "images", "*", "report"}) || is({"v1", "images", "*", "recommendations"})) {
    if (m != "GET") co_return method_not_allowed("GET");
    const std::string& digest = s[2];
    if (!is_valid_digest(digest))
      co_return error_response(
          make_error(Errc::bad_request, "image digest must be sha256:<64 hex>"));
    bool advice_only = s[3] == "recommendations";
    co_return co_await off_io(ctx, [&ctx, digest, advice_only]() -> ApiResponse {
      auto report = ctx.reporter.get(digest);
      if (!report) return error_response(report.error());
      if (!*report) return not_found("no image " + digest);
      if (advice_only)
        return json_response(200, json{{"manifest_digest", digest},
                                       {"base", (**report)["base"]},
                                       {"recommendations", (**report)["recommendations"]}});
      return json_response(200, **report);
    });
  }
  if (is({"v1", "rules"})) {
    if (m != "GET") co_return method_not_allowed("GET");
    co_return json_response(200, to_json(ctx.reporter.rules()));
  }
  if (is({"v1", "suppressions"})) {
    if (m == "GET") {
      auto list = ctx.store.list_suppressions();
      if (!list) co_return error_response(list.error());
      json out = json::array();
      for (auto& x : *list) out.push_back(to_json(Suppression{x.rule_id, x.path, x.env_key}));
      json configured = json::array();
      for (auto& x : ctx.config.suppressions) configured.push_back(to_json(x));
      co_return json_response(200, json{{"suppressions", out}, {"configured", configured}});
    }
    if (m == "PUT") {
      json body = json::parse(req.body, nullptr, false);
      if (!body.is_object() || !body.contains("suppressions") || !body["suppressions"].is_array())
        co_return error_response(make_error(
            Errc::bad_request,
            "body must be {\"suppressions\": [{\"rule_id\", \"path\"?, \"env_key\"?}]}"));
      std::vector<SuppressionRecord> list;
      for (auto& x : body["suppressions"]) {
        auto sup = suppression_from_json(x);
        if (!sup) co_return error_response(sup.error());
        if (!ctx.reporter.rules().find(sup->rule_id))
          co_return error_response(make_error(Errc::bad_request, "unknown rule " + sup->rule_id));
        list.push_back({sup->rule_id, sup->path, sup->env_key});
      }
      if (auto r = ctx.store.replace_suppressions(list); !r) co_return error_response(r.error());
      co_return json_response(200, json{{"suppressions", body["suppressions"]}});
    }
    co_return method_not_allowed("GET, PUT");
  }
  if (is({"v1", "images"})) {
    if (m != "GET") co_return method_not_allowed("GET");
    co_return list_images(*target, ctx);
  }
  if (is({"v1", "repositories"})) {
    if (m != "GET") co_return method_not_allowed("GET");
    co_return list_repositories(*target, ctx);
  }
  if (s.size() >= 5 && s[0] == "v1" && s[1] == "repositories" && s.back() == "tags") {
    if (m != "GET") co_return method_not_allowed("GET");
    co_return list_repository_tags(s, ctx);
  }
  if (is({"v1", "schedules"})) {
    if (m != "GET") co_return method_not_allowed("GET");
    co_return json_response(
        200, json{{"schedules", ctx.scheduler ? ctx.scheduler->status() : json::array()}});
  }
  if (is({"v1", "stats"})) {
    if (m != "GET") co_return method_not_allowed("GET");
    auto st = ctx.store.stats(ctx.reporter.rules().version());
    if (!st) co_return error_response(st.error());
    auto sm = ctx.scans.metrics();
    (*st)["queue"] = {{"queued", sm.queued}, {"running", sm.running}};
    (*st)["ruleset_version"] = ctx.reporter.rules().version();
    co_return json_response(200, *st);
  }
  if (is({"v1", "layers", "*"})) {
    if (m != "GET") co_return method_not_allowed("GET");
    const std::string& digest = s[2];
    if (!is_valid_digest(digest))
      co_return error_response(
          make_error(Errc::bad_request, "layer digest must be sha256:<64 hex>"));
    co_return co_await off_io(ctx, [&ctx, digest]() -> ApiResponse {
      auto l = ctx.store.get_layer(digest);
      if (!l) return error_response(l.error());
      if (!*l) return not_found("no layer " + digest);
      return json_response(200, layer_view(**l));
    });
  }
  co_return not_found("no route for " + m + " " + req.target.substr(0, 200));
}

}  // namespace bw
