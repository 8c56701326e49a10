// Bulwark's web UI: plain JavaScript over the REST API, no build step, nothing loaded from
// elsewhere. Every value from the API is put in the page as text (DOM nodes, never HTML):
// image names, paths and evidence come from registries and images nobody vetted.
"use strict";

const GRADES = ["A", "B", "C", "D", "F"];
const view = () => document.getElementById("view");
let pollTimer = null;

// ---- DOM helpers -------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  return append(el, children);
}

function grade(g, big) {
  if (!g) return h("span", { class: "muted" }, "–");
  return h("span", { class: `grade grade-${g}${big ? " big" : ""}`, "data-grade": g }, g);
}

function shortDigest(d) {
  return d ? d.replace(/^sha256:/, "").slice(0, 12) : "";
}

function bytes(n) {
  if (n === undefined || n === null) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function imageLink(digest, label) {
  return h("a", { href: `#/image/${digest}` }, label || shortDigest(digest));
}

function show(...children) {
  const v = view();
  v.replaceChildren();
  append(v, children);
}

function errorBox(e) {
  return h("div", { class: "error", role: "alert" }, e.message || String(e));
}

// ---- API -----------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function token() {
  return sessionStorage.getItem("bulwark-token") || "";
}

// fetch() revalidates with the ETag the browser kept (the API sends Cache-Control: no-cache),
// so polling an unchanged resource costs a 304.
// GET and the response's ETag, for an edit that must not overwrite another's (If-Match).
async function apiVersioned(path) {
  const headers = { "Cache-Control": "no-cache" };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const res = await fetch(path, { headers });
  if (!res.ok) return [await api(path), null];
  return [await res.json(), res.headers.get("ETag")];
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token()) headers.Authorization = `Bearer ${token()}`;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method: options.method || "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  const body = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const err = (body && body.error) || { code: "http_" + res.status, message: res.statusText };
    if (res.status === 401) askToken();
    throw new ApiError(res.status, err.code, `${err.message} (${res.status} ${err.code})`);
  }
  return body;
}

function askToken() {
  const dialog = document.getElementById("token-dialog");
  if (!dialog.open) dialog.showModal();
}

function setupToken() {
  const dialog = document.getElementById("token-dialog");
  const button = document.getElementById("token-button");
  document.getElementById("token-form").addEventListener("submit", () => {
    sessionStorage.setItem("bulwark-token", document.getElementById("token-input").value);
    button.hidden = false;
    render();
  });
  document.getElementById("token-cancel").addEventListener("click", () => dialog.close());
  button.hidden = !token();
  button.addEventListener("click", () => {
    sessionStorage.removeItem("bulwark-token");
    button.hidden = true;
    render();
  });
}

// ---- charts (SVG) -------------------------------------------------------------------------

function gradeBars(grades) {
  const max = Math.max(1, ...GRADES.map((g) => grades[g] || 0));
  const w = 320, bar = 44, gap = 16, hgt = 140;
  const chart = svg("svg", { viewBox: `0 0 ${w} ${hgt + 30}`, width: w, height: hgt + 30, role: "img", "aria-label": "images by grade" });
  GRADES.forEach((g, i) => {
    const n = grades[g] || 0;
    const bh = Math.round((n / max) * hgt);
    const x = 10 + i * (bar + gap);
    const rect = svg("rect", { x, y: hgt - bh + 12, width: bar, height: bh, rx: 3 });
    rect.style.fill = getComputedStyle(document.documentElement).getPropertyValue(`--${g.toLowerCase()}`);
    chart.append(rect, svg("text", { x: x + bar / 2 - 4, y: hgt + 26 }, g), svg("text", { x: x + bar / 2 - 6, y: hgt - bh + 8, "data-count": g }, n));
  });
  return chart;
}

function trendChart(days) {
  const w = 640, hgt = 160, left = 30;
  const chart = svg("svg", { viewBox: `0 0 ${w} ${hgt + 30}`, width: "100%", height: hgt + 30, role: "img", "aria-label": "score trend" });
  for (const v of [0, 50, 100]) {
    const y = 10 + hgt - (v / 100) * hgt;
    chart.append(svg("line", { x1: left, x2: w, y1: y, y2: y, stroke: "#e3e6ec" }), svg("text", { x: 2, y: y + 4 }, v));
  }
  const step = days.length > 1 ? (w - left - 10) / (days.length - 1) : 0;
  for (const [key, colour] of [["mean_score", "#0b5cad"], ["min_score", "#cf222e"]]) {
    const pts = days.map((d, i) => (d[key] === undefined ? null : `${left + i * step},${10 + hgt - (d[key] / 100) * hgt}`)).filter(Boolean);
    if (pts.length) chart.append(svg("polyline", { points: pts.join(" "), fill: "none", stroke: colour, "stroke-width": 2 }));
    for (const p of pts) {
      const [cx, cy] = p.split(",");
      chart.append(svg("circle", { cx, cy, r: 3, fill: colour }));
    }
  }
  if (days.length) {
    chart.append(svg("text", { x: left, y: hgt + 26 }, days[0].date), svg("text", { x: w - 70, y: hgt + 26 }, days[days.length - 1].date));
  }
  return chart;
}

// Images by grade at each day's end, stacked.
function gradeTrend(days) {
  const w = 640, hgt = 90, left = 30;
  const chart = svg("svg", { viewBox: `0 0 ${w} ${hgt + 10}`, width: "100%", height: hgt + 10, role: "img", "aria-label": "grades over time" });
  const max = Math.max(1, ...days.map((d) => d.images));
  const slot = (w - left) / Math.max(1, days.length);
  const style = getComputedStyle(document.documentElement);
  days.forEach((d, i) => {
    let y = hgt;
    for (const g of GRADES) {
      const n = d.grades[g] || 0;
      if (!n) continue;
      const bh = (n / max) * (hgt - 10);
      y -= bh;
      const rect = svg("rect", { x: left + i * slot + 1, y, width: Math.max(1, slot - 2), height: bh });
      rect.style.fill = style.getPropertyValue(`--${g.toLowerCase()}`);
      rect.append(svg("title", {}, `${d.date}: ${n} ${g}`));
      chart.append(rect);
    }
  });
  chart.append(svg("text", { x: 2, y: 12 }, max));
  return chart;
}

// ---- pages ---------------------------------------------------------------------------------

async function overview() {
  const [stats, trend, worst] = await Promise.all([
    api("/v1/stats"),
    api("/v1/trends?days=30"),
    api("/v1/images?sort=score&limit=10"),
  ]);
  const grades = stats.grades || {};
  if (!stats.images && !stats.queue.running && !stats.queue.queued) {
    // Nothing scanned yet: the first thing to do, here, rather than empty charts.
    show(
      h("h1", {}, "Fleet overview"),
      h("div", { class: "panel", "data-testid": "first-scan" },
        h("h2", {}, "No images scanned yet"),
        h("p", {}, "Name an image in a registry this daemon may reach; its hardening score, findings and a better base appear here once the scan is done."),
        scanForm("/scans"),
        h("p", { class: "muted" }, "From CI: ", h("code", {}, "bulwark scan registry/repository:tag"),
          " — or schedule rescans of a whole registry in the daemon's configuration.")));
    return;
  }
  show(
    h("h1", {}, "Fleet overview"),
    h("div", { class: "cards" },
      card(stats.images, "images", "stat-images"),
      card(stats.repositories, "repositories"),
      card(stats.layers, "layers analysed"),
      card(bytes(stats.compressed_bytes_fetched), "fetched"),
      card(stats.eol_os_images, "on an end-of-life OS", "stat-eol"),
      card(`${stats.queue.running} / ${stats.queue.queued}`, "scans running / queued")),
    h("div", { class: "grid2" },
      h("div", { class: "panel" }, h("h2", {}, "Images by grade"), gradeBars(grades),
        h("p", { class: "muted", "data-testid": "grade-counts" }, GRADES.map((g) => `${g}: ${grades[g] || 0}`).join("  "))),
      h("div", { class: "panel" }, h("h2", {}, "Score over 30 days (mean, lowest)"), trendChart(trend.days),
        h("h2", {}, "Grades over 30 days"), gradeTrend(trend.days))),
    h("div", { class: "grid2" },
      h("div", { class: "panel" }, h("h2", {}, "Worst images"), imagesTable(worst.images)),
      h("div", { class: "panel" }, h("h2", {}, "Base images in use"),
        h("table", {}, h("tr", {}, h("th", {}, "base"), h("th", {}, "images")),
          (stats.bases || []).map((b) => h("tr", {}, h("td", {}, b.base || h("span", { class: "muted" }, "not detected")), h("td", {}, b.images)))))));
}

function card(n, label, testid) {
  return h("div", { class: "card", "data-testid": testid }, h("div", { class: "n" }, n === undefined ? "–" : n), h("div", { class: "l" }, label));
}

const SEVERITIES = ["critical", "high", "medium", "low"];

// Unsuppressed findings per severity, as a scanner's list shows them: "2 H 5 M 1 L".
function severityCounts(counts) {
  if (!counts) return h("span", { class: "muted" }, "–");
  const shown = SEVERITIES.filter((s) => counts[s] > 0);
  if (!shown.length) return h("span", { class: "muted" }, "none");
  return h("span", { "data-testid": "severity-counts" },
    shown.map((s) => h("span", { class: `count sev-${s}`, title: `${counts[s]} ${s}` }, `${counts[s]} ${s[0].toUpperCase()}`)));
}

function imagesTable(images) {
  if (!images.length) return h("p", { class: "muted" }, "No images scanned yet.");
  return h("table", { "data-testid": "images" },
    h("tr", {}, h("th", {}, "grade"), h("th", {}, "score"), h("th", {}, "image"), h("th", {}, "platform"),
      h("th", {}, "findings"), h("th", {}, "top finding"), h("th", {}, "last scanned")),
    images.map((i) => h("tr", {}, h("td", {}, grade(i.grade)), h("td", {}, i.score ?? "–"),
      // A row is named by its tag only while the tag still names it (else repository@digest).
      h("td", {}, imageLink(i.manifest_digest, i.image || i.manifest_digest),
        i.tag ? "" : h("div", { class: "muted" }, h("code", {}, shortDigest(i.manifest_digest)))),
      h("td", {}, i.platform),
      h("td", {}, severityCounts(i.severity_counts)),
      h("td", { "data-testid": "top-finding" }, i.top_finding
        ? [h("span", { class: `sev sev-${i.top_finding.severity}` }, i.top_finding.severity), " ", h("strong", {}, i.top_finding.rule_id), " ", i.top_finding.title]
        : h("span", { class: "muted" }, "–")),
      h("td", {}, i.last_scanned))));
}

async function imagesPage(params) {
  const qs = new URLSearchParams({ sort: "-last_scanned", limit: "100" });
  for (const k of ["grade", "q", "cursor"]) if (params.get(k)) qs.set(k, params.get(k));
  const list = await api(`/v1/images?${qs}`);
  // The next page continues after this one's last row (a keyset cursor), whatever the fleet's size.
  const next = new URLSearchParams();
  for (const k of ["grade", "q"]) if (params.get(k)) next.set(k, params.get(k));
  if (list.next_cursor) next.set("cursor", list.next_cursor);
  const search = h("input", { type: "search", name: "q", placeholder: "registry/repository:tag contains…", size: 36, value: params.get("q") || "", "data-testid": "image-search" });
  const searchForm = h("form", { class: "inline", role: "search" }, h("label", {}, "Search", search), h("button", { type: "submit" }, "Search"));
  searchForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const p = new URLSearchParams();
    if (params.get("grade")) p.set("grade", params.get("grade"));
    if (search.value.trim()) p.set("q", search.value.trim());
    location.hash = `#/images${p.toString() ? "?" + p : ""}`;
  });
  const gradeLink = (g) => {
    const p = new URLSearchParams();
    if (g) p.set("grade", g);
    if (params.get("q")) p.set("q", params.get("q"));
    return h("a", { href: `#/images${p.toString() ? "?" + p : ""}`, class: "filter" }, g || "all", " ");
  };
  show(h("h1", {}, "Images"), searchForm,
    h("p", {}, "Grade: ", ["", ...GRADES].map(gradeLink)),
    imagesTable(list.images),
    list.next_cursor ? h("p", {}, h("a", { href: `#/images?${next}`, "data-testid": "next-page" }, "next page →")) : null);
}

async function repositories() {
  const list = await api("/v1/repositories?limit=1000");
  show(h("h1", {}, "Repositories"),
    list.repositories.length === 0 ? h("p", { class: "muted" }, "No repositories seen yet.") :
      h("table", {}, h("tr", {}, h("th", {}, "repository"), h("th", {}, "tags"), h("th", {}, "last seen")),
        list.repositories.map((r) => h("tr", {},
          h("td", {}, h("a", { href: `#/repository/${r.registry}/${r.repository}` }, `${r.registry}/${r.repository}`)),
          h("td", {}, r.tags), h("td", {}, r.last_seen)))));
}

async function repository(path) {
  const slash = path.indexOf("/");
  const registry = path.slice(0, slash), name = path.slice(slash + 1);
  const data = await api(`/v1/repositories/${registry}/${name}/tags`);
  const byTag = new Map();
  for (const t of data.tags) {
    if (!byTag.has(t.tag)) byTag.set(t.tag, []);
    byTag.get(t.tag).push(t);
  }
  const sections = [];
  for (const [tag, history] of byTag) {
    history.sort((a, b) => (a.first_seen < b.first_seen ? 1 : -1));  // newest first
    sections.push(h("div", { class: "panel", "data-tag": tag }, h("h2", {}, `${name}:${tag}`),
      h("table", {}, h("tr", {}, h("th", {}, "digest"), h("th", {}, "grade"), h("th", {}, "score"), h("th", {}, "change"), h("th", {}, "first seen"), h("th", {}, "last seen")),
        history.map((t, i) => {
          const older = history[i + 1];
          const delta = older && t.score !== undefined && older.score !== undefined ? t.score - older.score : null;
          const cls = delta === null ? "" : delta < 0 ? "regression" : delta > 0 ? "improvement" : "";
          return h("tr", { class: cls },
            h("td", {}, imageLink(t.manifest_digest)), h("td", {}, grade(t.grade)), h("td", {}, t.score ?? "–"),
            h("td", { class: "delta" }, delta === null ? "" : delta < 0 ? `▼ ${delta}` : delta > 0 ? `▲ +${delta}` : "="),
            h("td", {}, t.first_seen), h("td", {}, t.last_seen));
        }))));
  }
  show(h("h1", {}, `${registry}/${name}`), sections);
}

async function imagePage(digest) {
  const [report, image, rules, sups] = await Promise.all([
    api(`/v1/images/${digest}/report`),
    api(`/v1/images/${digest}`),
    api("/v1/rules"),
    api("/v1/suppressions").catch(() => null),
  ]);
  const ruleById = new Map(rules.rules.map((r) => [r.id, r]));
  const byCategory = new Map();
  for (const f of report.findings) {
    if (!byCategory.has(f.category)) byCategory.set(f.category, []);
    byCategory.get(f.category).push(f);
  }
  const findings = [];
  // Within a category the worst first; suppressed ones after those that count.
  const rank = (f) => (f.suppressed ? 10 : 0) + SEVERITY_ORDER.indexOf(f.severity);
  for (const list of byCategory.values()) list.sort((a, b) => rank(a) - rank(b));
  for (const [category, list] of byCategory) {
    findings.push(h("h2", {}, category.replace(/_/g, " ")),
      h("table", { "data-category": category },
        h("tr", {}, h("th", {}, "severity"), h("th", {}, "rule"), h("th", {}, "evidence"), h("th", {}, "layer"), h("th", {}, "why and what to do"), h("th", {})),
        list.map((f) => findingRow(f, ruleById.get(f.rule_id) || {}, sups, report.image))));
  }
  show(
    h("h1", {}, report.image || digest),
    h("div", { class: "cards" },
      h("div", { class: "card" }, grade(report.grade, true), " ", h("span", { class: "n", "data-testid": "score" }, report.score), h("div", { class: "l" }, "score")),
      card(`${report.base_score ?? "–"} ${report.base_grade || ""}`, "base part"),
      card(`${report.app_score ?? "–"} ${report.app_grade || ""}`, "app part"),
      card(report.base && report.base.name ? report.base.name : "not detected", `base (${(report.base && report.base.confidence) || "none"} confidence)`),
      card(image.package_count, "packages"),
      card(image.user || "root (unset)", "user")),
    h("p", { class: "muted" }, h("code", {}, digest), " · ", image.platform, " · ruleset ", report.ruleset_version),
    scoreParts(report),
    h("h2", {}, "Advice"), advice(report.recommendations || []),
    h("h2", {}, `Findings (${report.findings.length})`), findings,
    h("h2", {}, "Layers"), layersTable(image.layers),
    h("details", {}, h("summary", {}, `Packages (${(image.packages || []).length})`),
      h("table", {}, (image.packages || []).map((p) => h("tr", {}, h("td", {}, p.name), h("td", {}, p.version), h("td", {}, h("code", {}, shortDigest(p.layer_digest))))))),
    appPackages(image.app_packages || []));
}

// The app's language packages, a table per ecosystem, with where each was read and whether
// it is a dev dependency.
function appPackages(list) {
  const by = {};
  for (const p of list) (by[p.ecosystem] ||= []).push(p);
  const names = { npm: "npm", pypi: "Python", golang: "Go modules", maven: "Java", gem: "Ruby gems", composer: "PHP (Composer)", cargo: "Rust crates",
    generic: "Runtimes" };
  return h("details", { "data-testid": "app-packages" },
    h("summary", {}, `Language packages (${list.length})`),
    ...Object.keys(by).sort().map((eco) => h("div", {},
      h("h3", {}, `${names[eco] || eco} (${by[eco].length})`),
      h("table", {},
        h("tr", {}, h("th", {}, "name"), h("th", {}, "version"), h("th", {}, "license"), h("th", {}, "file"), h("th", {}, "layer")),
        by[eco].map((p) => h("tr", {},
          h("td", {}, (p.group ? p.group + ":" : "") + p.name, p.dev ? h("span", { class: "muted" }, " dev") : ""),
          h("td", {}, p.version), h("td", {}, p.license || ""),
          h("td", {}, h("code", {}, "/" + p.path + (p.origin ? "!" + p.origin : ""))),
          h("td", {}, h("code", {}, shortDigest(p.layer_digest)))))))));
}

const SEVERITY_ORDER = ["critical", "high", "medium", "low", "info"];

// How the base's layers and the app's own make the score: each part's deduction, the rules
// both trip counted once, and the model's curve past 60.
function scoreParts(report) {
  const d = report.deductions;
  if (!d) return "";
  const shared = d.base + d.app - d.total;
  return h("p", { "data-testid": "score-parts" },
    `Score ${report.score} = 100 − ${d.total} of deductions`, d.total > 60 ? " (diminishing past 60)" : "", ": ",
    h("strong", {}, `base layers −${d.base}`), ` (${report.base ? report.base.name || "base not detected" : "base"}), `,
    h("strong", {}, `app layers and config −${d.app}`),
    shared > 0 ? ` (−${shared} of rules both trip, counted once)` : "", ".");
}

function findingRow(f, rule, sups, image) {
  const ev = f.evidence || {};
  const evidence = [ev.path && h("code", {}, ev.path), ev.config_key && h("code", {}, ev.config_key), ev.detail, ev.created_by && h("code", {}, ev.created_by)].filter(Boolean);
  const row = h("tr", { class: f.suppressed ? "suppressed" : "", "data-rule": f.rule_id },
    h("td", {}, h("span", { class: `sev sev-${f.severity}` }, f.severity)),
    h("td", {}, h("strong", {}, f.rule_id), h("br"), f.title),
    h("td", {}, evidence.map((e) => [e, h("br")])),
    h("td", {}, f.origin, f.layer_digest ? [" ", h("code", {}, shortDigest(f.layer_digest))] : ""),
    h("td", {}, f.rationale || rule.rationale, h("br"), h("em", {}, f.remediation || rule.remediation),
      f.suppressed ? h("div", { class: "muted" }, "suppressed", f.suppression_reason ? `: ${f.suppression_reason}` : "") : "",
      f.suppression_expired ? h("div", { class: "sev-medium", "data-testid": "suppression-expired" }, `suppression expired ${f.suppression_expired}`) : ""),
    h("td", {}, f.suppressed || !sups ? "" : h("button", { type: "button", class: "suppress", onclick: (e) => suppressForm(e.target, f, sups, image) }, "Suppress")));
  return row;
}

// The image scanned ("registry/repo:tag" or "…@digest") without its tag and digest.
function repositoryOf(image) {
  const at = image.indexOf("@");
  const name = at < 0 ? image : image.slice(0, at);
  const colon = name.lastIndexOf(":");
  return colon > name.lastIndexOf("/") ? name.slice(0, colon) : name;
}

function suppressForm(button, f, sups, image) {
  const cell = button.parentElement;
  const reason = h("input", { name: "reason", placeholder: "reason", required: true, size: 24 });
  const onlyPath = h("input", { type: "checkbox", name: "only_path", checked: !!(f.evidence && f.evidence.path) });
  // Scoped as narrowly as the user means it: this image, its repository, or the fleet.
  const scope = h("select", { name: "scope" },
    image ? h("option", { value: image }, "this image") : "",
    image ? h("option", { value: repositoryOf(image), selected: true }, "this repository") : "",
    h("option", { value: "" }, "every image"));
  const expires = h("input", { type: "date", name: "expires" });
  const form = h("form", { class: "inline suppress-form" },
    f.evidence && f.evidence.path ? h("label", {}, h("span", {}, onlyPath, " this path only")) : "",
    h("label", {}, "Applies to", scope),
    h("label", {}, "Reason", reason),
    h("label", {}, "Until (optional)", expires),
    h("button", { class: "primary", type: "submit" }, "Suppress"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const entry = { rule_id: f.rule_id, reason: reason.value };
    if (scope.value) entry.image = scope.value;
    if (expires.value) entry.expires = expires.value;
    if (onlyPath.checked && f.evidence && f.evidence.path) entry.path = f.evidence.path;
    if (f.evidence && f.evidence.config_key && f.rule_id === "BW-SECRET-ENV") entry.env_key = f.evidence.config_key;
    try {
      // Added to the list as it is now, and only if it is still that list when written.
      const [current, etag] = await apiVersioned("/v1/suppressions");
      const list = current.suppressions.map(({ created_at, expired, ...rest }) => rest);
      await api("/v1/suppressions", { method: "PUT", headers: etag ? { "If-Match": etag } : {}, body: { suppressions: [...list, entry] } });
      render();
    } catch (err) {
      cell.append(errorBox(err));
    }
  });
  cell.replaceChildren(form);
  reason.focus();
}

function advice(recs) {
  if (!recs.length) return h("p", { class: "muted" }, "Nothing to change.");
  return h("div", { "data-testid": "advice" }, recs.map((r) => {
    const title = r.action === "switch" ? `Switch the base to ${r.base}` : r.action === "fix" ? `Fix ${r.rule_id}: ${r.title}` : `Keep ${r.base || "the base"}`;
    const snippet = r.dockerfile ? h("div", {}, h("pre", { class: "dockerfile" }, r.dockerfile),
      h("button", { type: "button", class: "copy", onclick: (e) => copy(r.dockerfile, e.target) }, "Copy")) : "";
    return h("div", { class: "panel recommendation", "data-action": r.action },
      h("strong", {}, title), " → ", grade(r.projected_grade), ` ${r.projected_score} (+${r.score_gain})`,
      r.reason ? h("p", {}, r.reason) : "", r.step ? h("p", {}, r.step) : "",
      r.dockerfile_missing ? h("p", { class: "muted" }, r.dockerfile_missing) : "", snippet);
  }));
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Without clipboard permission: select the snippet so that Ctrl+C copies it.
    const pre = button.previousElementSibling;
    const range = document.createRange();
    range.selectNodeContents(pre);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
  }
  button.textContent = "Copied";
}

function layersTable(layers) {
  return h("table", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, "digest"), h("th", {}, "origin"), h("th", {}, "size"), h("th", {}, "unpacked"), h("th", {}, "entries"), h("th", {}, "status")),
    layers.map((l) => h("tr", {}, h("td", {}, l.position), h("td", {}, h("code", {}, shortDigest(l.digest))), h("td", {}, l.origin),
      h("td", {}, bytes(l.size)), h("td", {}, bytes(l.uncompressed_size)), h("td", {}, l.entry_count), h("td", {}, l.status))));
}

function progressBar(done, total) {
  const pct = total ? Math.min(100, Math.round((100 * done) / total)) : 0;
  const fill = h("span");
  fill.style.width = `${pct}%`;
  return h("span", { class: "progress", role: "progressbar", "aria-valuenow": pct, "aria-valuemin": 0, "aria-valuemax": 100, "data-testid": "layer-progress" }, fill);
}

// A form that queues a scan of the image named, then shows `then` (a path) or the page again.
function scanForm(then) {
  const input = h("input", { name: "image", placeholder: "registry/repository:tag", size: 48, required: true });
  const form = h("form", { class: "inline" }, h("label", {}, "Image", input), h("button", { class: "primary", type: "submit" }, "Scan"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api("/v1/scans", { method: "POST", body: { image: input.value } });
      if (then) history.pushState({}, "", then);
      render();
    } catch (err) {
      form.after(errorBox(err));
    }
  });
  return form;
}

async function scans() {
  const [list, schedules] = await Promise.all([api("/v1/scans?limit=50"), api("/v1/schedules")]);
  const form = scanForm();
  const active = list.scans.filter((s) => s.status === "queued" || s.status === "running");
  show(h("h1", {}, "Scans"), form,
    h("h2", {}, `Queue and running (${active.length})`),
    active.length === 0 ? h("p", { class: "muted" }, "Nothing running.") : h("table", { "data-testid": "active-scans" },
      h("tr", {}, h("th", {}, "image"), h("th", {}, "status"), h("th", {}, "layers")),
      active.map((s) => h("tr", { "data-scan": s.id }, h("td", {}, s.image), h("td", {}, s.status),
        h("td", {}, ((s.progress && s.progress.layers) || []).map((l) => h("div", {},
          h("code", {}, shortDigest(l.digest)), " ", progressBar(l.bytes_done, l.bytes_total), " ", l.state, " ", `${bytes(l.bytes_done)} / ${bytes(l.bytes_total)}`)))))),
    h("h2", {}, "Recent"),
    h("table", {}, h("tr", {}, h("th", {}, "image"), h("th", {}, "status"), h("th", {}, "grade"), h("th", {}, "verdict"), h("th", {}, "finished"), h("th", {}, "error")),
      list.scans.filter((s) => !active.includes(s)).map((s) => h("tr", {}, h("td", {}, s.manifest_digest && s.score !== undefined ? imageLink(s.manifest_digest, s.image) : s.image),
        h("td", {}, s.status), h("td", {}, grade(s.grade), " ", s.score ?? ""), h("td", {}, s.verdict || ""), h("td", {}, s.finished_at || ""),
        h("td", {}, s.error ? `${s.error.code}: ${s.error.message}` : "")))),
    h("h2", {}, "Schedules"),
    schedules.schedules.length === 0 ? h("p", { class: "muted" }, "No registry rescans configured.") :
      h("table", {}, h("tr", {}, h("th", {}, "registry"), h("th", {}, "every"), h("th", {}, "runs"), h("th", {}, "last run"), h("th", {}, "queued"), h("th", {}, "unchanged"), h("th", {}, "errors")),
        schedules.schedules.map((s) => h("tr", {}, h("td", {}, s.registry), h("td", {}, `${s.interval_minutes} min`), h("td", {}, s.runs), h("td", {}, s.last_run || "never"),
          h("td", {}, s.scans_queued ?? ""), h("td", {}, s.unchanged ?? ""), h("td", { class: (s.errors || []).length ? "error" : "" }, (s.errors || []).join("; "))))));
  // Live progress: poll while the page is open (ETags make an idle poll a 304).
  pollTimer = setTimeout(() => { if (location.hash.startsWith("#/scans")) render(); }, active.length ? 1000 : 5000);
}

async function suppressions() {
  const [[sups, etag], rules] = await Promise.all([apiVersioned("/v1/suppressions"), api("/v1/rules")]);
  const list = sups.suppressions.map(({ created_at, expired, ...rest }) => rest);
  const save = async (next, where) => {
    try {
      // Only over the list this page shows: another editor's change is a 412, not lost.
      await api("/v1/suppressions", { method: "PUT", headers: etag ? { "If-Match": etag } : {}, body: { suppressions: next } });
      render();
    } catch (err) {
      where.after(errorBox(err));
    }
  };
  const rule = h("select", { name: "rule_id", required: true }, rules.rules.map((r) => h("option", { value: r.id }, `${r.id} — ${r.title}`)));
  const path = h("input", { name: "path", placeholder: "usr/bin/su or dir/", size: 24 });
  const env = h("input", { name: "env_key", placeholder: "ENV_NAME", size: 14 });
  const reason = h("input", { name: "reason", placeholder: "why this is accepted", size: 32, required: true });
  const image = h("input", { name: "image", placeholder: "registry/repo[:tag], prefix/ or empty for all", size: 28 });
  const expires = h("input", { type: "date", name: "expires" });
  const form = h("form", { class: "inline", "data-testid": "add-suppression" }, h("label", {}, "Rule", rule), h("label", {}, "Path", path), h("label", {}, "Env key", env),
    h("label", {}, "Applies to", image), h("label", {}, "Reason", reason), h("label", {}, "Until (optional)", expires), h("button", { class: "primary", type: "submit" }, "Add"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const entry = { rule_id: rule.value, reason: reason.value };
    if (path.value) entry.path = path.value;
    if (env.value) entry.env_key = env.value;
    if (image.value.trim()) entry.image = image.value.trim();
    if (expires.value) entry.expires = expires.value;
    save([...list, entry], form);
  });
  show(h("h1", {}, "Suppressions"),
    h("p", { class: "muted" }, "A suppressed finding stays in the report, marked, and no longer counts against the score. Changing them needs a token with the admin scope."),
    form,
    h("table", { "data-testid": "suppressions" }, h("tr", {}, h("th", {}, "rule"), h("th", {}, "path"), h("th", {}, "env key"), h("th", {}, "applies to"), h("th", {}, "reason"), h("th", {}, "until"), h("th", {}, "since"), h("th", {})),
      sups.suppressions.map((s, i) => h("tr", { "data-rule": s.rule_id, class: s.expired ? "suppressed" : "" }, h("td", {}, s.rule_id), h("td", {}, s.path || ""), h("td", {}, s.env_key || ""),
        h("td", {}, s.image || h("span", { class: "muted" }, "every image")), h("td", {}, s.reason || ""),
        h("td", {}, s.expires ? [s.expires, s.expired ? h("span", { class: "sev-medium" }, " expired") : ""] : ""),
        h("td", {}, s.created_at || ""), h("td", {}, h("button", { type: "button", class: "remove", onclick: (e) => save(list.filter((_, j) => j !== i), e.target) }, "Remove"))))),
    h("h2", {}, "From the configuration file"),
    h("table", {}, sups.configured.map((s) => h("tr", {}, h("td", {}, s.rule_id), h("td", {}, s.path || ""), h("td", {}, s.env_key || ""),
      h("td", {}, s.image || "every image"), h("td", {}, s.reason || ""), h("td", {}, s.expires ? `until ${s.expires}${s.expired ? " (expired)" : ""}` : "")))));
}

// ---- router --------------------------------------------------------------------------------

async function render() {
  clearTimeout(pollTimer);
  delete document.body.dataset.ready;
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  const section = path.split("/")[1] || "overview";
  for (const a of document.querySelectorAll("nav a[data-nav]")) a.classList.toggle("active", a.dataset.nav === section || (section === "image" && a.dataset.nav === "images") || (section === "repository" && a.dataset.nav === "repositories"));
  try {
    if (path === "/") await overview();
    else if (path === "/images") await imagesPage(params);
    else if (path.startsWith("/image/")) await imagePage(decodeURIComponent(path.slice(7)));
    else if (path === "/repositories") await repositories();
    else if (path.startsWith("/repository/")) await repository(path.slice(12));
    else if (path === "/scans") await scans();
    else if (path === "/suppressions") await suppressions();
    else show(h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/" }, "Overview")));
    document.body.dataset.ready = path;
  } catch (e) {
    show(errorBox(e));
    document.body.dataset.ready = path;
  }
}

window.addEventListener("hashchange", render);
window.addEventListener("DOMContentLoaded", () => {
  setupToken();
  render();
});
