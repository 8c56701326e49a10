// Browser tests of bulwarkd's web UI: Debian's chromium driven by puppeteer-core against a real
// bulwarkd that has scanned images from a real docker-registry (tests/web/run.sh sets it up).
// Each case is a node:test case, so that one failing page names itself and the others still run.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import puppeteer from "puppeteer-core";

const API = process.env.BULWARK_API;
const AUTH_API = process.env.BULWARK_AUTH_API;
const AUTH_TOKEN = process.env.BULWARK_AUTH_TOKEN;
const REGISTRY = process.env.BULWARK_REGISTRY;
const SLOW_IMAGE = process.env.BULWARK_SLOW_IMAGE;
const ARTIFACTS = process.env.BULWARK_ARTIFACTS;
const STEP_TIMEOUT = 30_000;

let browser;
let page;

async function api(path, options = {}) {
  const res = await fetch(API + path, {
    method: options.method || "GET",
    headers: { "Content-Type": "application/json" },
    body: options.body ? JSON.stringify(options.body) : undefined,
  });
  const body = await res.json();
  assert.ok(res.ok, `${path}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

// Opens a page of the UI and waits until it has rendered (app.js marks body[data-ready]).
async function open(hash, base = API) {
  await page.goto(`${base}/#${hash}`, { waitUntil: "domcontentloaded" });
  await page.waitForSelector(`body[data-ready="${hash.split("?")[0]}"]`, { timeout: STEP_TIMEOUT });
  const error = await page.$(".error");
  assert.equal(error, null, error ? await error.evaluate((e) => e.textContent) : "");
}

async function shot(name) {
  await page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
}

// The image a tag names now, with its score (from the tag's history, newest first).
async function imageByTag(repository, tag) {
  const { tags } = await api(`/v1/repositories/${REGISTRY}/${repository}/tags`);
  const found = tags.find((t) => t.tag === tag);
  assert.ok(found, `no tag ${tag} in ${JSON.stringify(tags)}`);
  return found;
}

before(async () => {
  browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    // Root in a container has no user namespaces for chromium's sandbox.
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
  page = await browser.newPage();
  await page.setViewport({ width: 1366, height: 900 });
  page.on("pageerror", (e) => console.error("page error:", e.message));
});

after(async () => {
  if (browser) await browser.close();
});

test("the overview shows the fleet's grade counts as /v1/stats has them", async () => {
  const stats = await api("/v1/stats");
  await open("/");
  const text = await page.$eval('[data-testid="grade-counts"]', (e) => e.textContent);
  for (const g of ["A", "B", "C", "D", "F"]) assert.match(text, new RegExp(`${g}: ${stats.grades[g] || 0}\\b`));
  const total = Object.values(stats.grades).reduce((a, b) => a + b, 0);
  assert.equal(total, 2, "two images are reported (app:1 now points at the bad image)");
  const bars = await page.$$eval("svg [data-count]", (es) => es.map((e) => [e.getAttribute("data-count"), e.textContent]));
  assert.deepEqual(Object.fromEntries(bars), Object.fromEntries(["A", "B", "C", "D", "F"].map((g) => [g, String(stats.grades[g] || 0)])));
  assert.equal(await page.$eval('[data-testid="stat-images"] .n', (e) => e.textContent), String(stats.images));
  // The worst images link to their pages.
  assert.ok((await page.$$('[data-testid="images"] a[href^="#/image/sha256:"]')).length >= 2);
  await shot("overview");
});

test("a tag's history highlights the regression when it moved to a worse image", async () => {
  await open(`/repository/${REGISTRY}/team/app`);
  const rows = await page.$$eval('[data-tag="1"] tr', (trs) => trs.slice(1).map((tr) => ({ cls: tr.className, delta: tr.querySelector(".delta").textContent })));
  assert.equal(rows.length, 2);
  assert.equal(rows[0].cls, "regression");
  assert.match(rows[0].delta, /^▼ -\d+$/);
  await shot("repository");
});

test("an image page shows its findings by category, layers, packages and the advice", async () => {
  const bad = await imageByTag("team/db", "2");
  await open(`/image/${bad.manifest_digest}`);
  for (const rule of ["BW-USER-ROOT", "BW-SHELL", "BW-SUID"]) assert.ok(await page.$(`tr[data-rule="${rule}"]`), `${rule} shown`);
  assert.equal(await page.$eval('[data-testid="score"]', (e) => e.textContent), String(bad.score));
  const categories = await page.$$eval("table[data-category]", (ts) => ts.map((t) => t.dataset.category));
  assert.ok(categories.includes("identity") && categories.includes("attack_surface"), categories.join(","));
  // Remediation and rationale are on the row, not behind a link.
  const suid = await page.$eval('tr[data-rule="BW-SUID"]', (tr) => tr.textContent);
  assert.match(suid, /usr\/bin\/passwd/);
  // The app's language packages, by ecosystem, with the file each was read from.
  const langs = await page.$eval('[data-testid="app-packages"]', (d) => d.textContent);
  assert.match(langs, /Language packages \(1\)/);
  assert.match(langs, /left-pad.*1\.3\.0.*WTFPL.*app\/node_modules\/left-pad\/package\.json/s);
  const recs = await page.$$eval(".recommendation", (rs) => rs.map((r) => r.dataset.action));
  assert.ok(recs.length >= 1, "advice shown");
  const report = await api(`/v1/images/${bad.manifest_digest}/report`);
  assert.deepEqual(recs, report.recommendations.map((r) => r.action));
  if (report.recommendations.some((r) => r.dockerfile)) {
    assert.ok(await page.$("pre.dockerfile"));
    await page.click("button.copy");
    await page.waitForFunction(() => document.querySelector("button.copy").textContent === "Copied", { timeout: STEP_TIMEOUT });
  }
  await shot("image");
});

test("the images list says how bad at a glance and finds by name", async () => {
  await open("/images?q=team/db");
  const { images } = await api("/v1/images?q=team/db&sort=-last_scanned&limit=100");
  assert.ok(images.length >= 1);
  const rows = await page.$$eval('[data-testid="images"] tr', (trs) => trs.slice(1).map((tr) => tr.textContent));
  assert.equal(rows.length, images.length);
  for (const r of rows) assert.match(r, /team\/db/);
  // Severity counts and the top finding on the row, as the API has them.
  const worst = images.find((i) => i.top_finding);
  assert.ok(worst, "a row with a top finding");
  const top = await page.$$eval('[data-testid="top-finding"]', (ts) => ts.map((t) => t.textContent));
  assert.ok(top.some((t) => t.includes(worst.top_finding.rule_id)), top.join("|"));
  const counts = await page.$$eval('[data-testid="severity-counts"]', (cs) => cs.map((c) => c.textContent));
  const high = worst.severity_counts.high;
  if (high) assert.ok(counts.some((c) => c.includes(`${high} H`)), counts.join("|"));
  // The image page says how the parts make the score, the worst finding of a category first.
  await open(`/image/${worst.manifest_digest}`);
  const parts = await page.$eval('[data-testid="score-parts"]', (p) => p.textContent);
  const report = await api(`/v1/images/${worst.manifest_digest}/report`);
  assert.match(parts, new RegExp(`base layers −${report.deductions.base}`));
  assert.match(parts, new RegExp(`app layers and config −${report.deductions.app}`));
  const order = ["critical", "high", "medium", "low", "info"];
  const severities = await page.$$eval("table[data-category]", (ts) => ts.map((t) => [...t.querySelectorAll("tr[data-rule]:not(.suppressed) .sev")].map((s) => s.textContent)));
  for (const list of severities)
    for (let i = 1; i < list.length; i++) assert.ok(order.indexOf(list[i - 1]) <= order.indexOf(list[i]), list.join(","));
  await shot("images-search");
});

test("a suppression added in the page is reflected in the report", async () => {
  const bad = await imageByTag("team/db", "2");
  const before = await api(`/v1/images/${bad.manifest_digest}/report`);
  await open(`/image/${bad.manifest_digest}`);
  await page.click('tr[data-rule="BW-SHELL"] button.suppress');
  await page.type('tr[data-rule="BW-SHELL"] input[name="reason"]', "debug image, accepted by the platform team");
  await page.click('tr[data-rule="BW-SHELL"] .suppress-form button[type="submit"]');
  await page.waitForSelector('tr[data-rule="BW-SHELL"].suppressed', { timeout: STEP_TIMEOUT });
  const after = await api(`/v1/images/${bad.manifest_digest}/report`);
  const shell = after.findings.find((f) => f.rule_id === "BW-SHELL");
  assert.equal(shell.suppressed, true);
  assert.equal(shell.suppression_reason, "debug image, accepted by the platform team");
  // Scoped as the form offers by default: the repository of the image the page names, not
  // the fleet.
  const repository = before.image.replace(/@.*$/, "").replace(/:[^:/]*$/, "");
  assert.ok(repository.startsWith(`${REGISTRY}/team/`), repository);
  assert.equal((await api("/v1/suppressions")).suppressions[0].image, repository);
  assert.ok(after.score > before.score, `score ${before.score} -> ${after.score}`);
  await shot("image-suppressed");
  // The suppressions page lists it with its reason, and removes it.
  await open("/suppressions");
  const listed = await page.$eval('[data-testid="suppressions"] tr[data-rule="BW-SHELL"]', (tr) => tr.textContent);
  assert.match(listed, /accepted by the platform team/);
  await shot("suppressions");
  await page.click('[data-testid="suppressions"] tr[data-rule="BW-SHELL"] button.remove');
  await page.waitForFunction(() => document.body.dataset.ready === "/suppressions" && !document.querySelector('[data-testid="suppressions"] tr[data-rule]'), { timeout: STEP_TIMEOUT });
  assert.deepEqual((await api("/v1/suppressions")).suppressions, []);
  const restored = await api(`/v1/images/${bad.manifest_digest}/report`);
  assert.equal(restored.score, before.score);
});

test("the scans page shows the live progress of a running scan", async () => {
  const scan = await api("/v1/scans", { method: "POST", body: { image: SLOW_IMAGE } });
  try {
    await open("/scans");
    // The page polls; the layer's bar moves past 0 while the blob drips in.
    await page.waitForFunction(
      (id) => {
        const bar = document.querySelector(`tr[data-scan="${id}"] [data-testid="layer-progress"]`);
        const pct = bar ? Number(bar.getAttribute("aria-valuenow")) : 0;
        return pct > 0 && pct < 100;
      },
      { timeout: STEP_TIMEOUT, polling: 200 },
      scan.id,
    );
    const status = await page.$eval(`tr[data-scan="${scan.id}"]`, (tr) => tr.children[1].textContent);
    assert.equal(status, "running");
    await shot("scans");
  } finally {
    await fetch(`${API}/v1/scans/${scan.id}`, { method: "DELETE" });
  }
});

test("with API auth on, the page asks for a token and keeps it in the session only", async () => {
  await page.goto(`${AUTH_API}/#/`, { waitUntil: "domcontentloaded" });
  await page.waitForSelector("#token-dialog[open]", { timeout: STEP_TIMEOUT });
  await shot("token");
  await page.type("#token-input", AUTH_TOKEN);
  await page.click('#token-form button[value="ok"]');
  // That daemon has scanned nothing: its overview invites a first scan instead of empty charts.
  await page.waitForSelector('[data-testid="first-scan"] form input[name="image"]', { timeout: STEP_TIMEOUT });
  assert.equal(await page.$('[data-testid="grade-counts"]'), null);
  await shot("overview-empty");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("bulwark-token")), AUTH_TOKEN);
  assert.equal(await page.evaluate(() => localStorage.length), 0);
});
