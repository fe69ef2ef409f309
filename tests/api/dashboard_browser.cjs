// Drives the dashboard and the auditor page in headless Debian Chromium with playwright-core; prints JSON.
//   node dashboard_browser.cjs BASE_URL REGULATOR_TOKEN AUDITOR_TOKEN ARTIFACT_DIR USER_DATA_DIR
"use strict";
const path = require("path");
const { chromium } = require(path.join(process.env.PLAYWRIGHT_DIR, "node_modules", "playwright-core"));

const [base, regulator, auditor, artifacts, profile] = process.argv.slice(2);
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

async function signIn(page, url, token) {
  await page.goto(url);
  await page.fill("#token", token);
  await Promise.all([page.waitForNavigation(), page.click("#sign-in")]);
}

async function main() {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium", headless: true, args: ARGS, viewport: { width: 1400, height: 1800 },
  });
  const out = { foreign: [], errors: [], failed: [] };
  context.on("request", (r) => { if (!r.url().startsWith(base) && !r.url().startsWith("data:")) out.foreign.push(r.url()); });
  const page = context.pages()[0] || await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) out.errors.push(m.text());
  });
  page.on("response", (r) => { if (r.status() >= 400) out.failed.push(`${r.status()} ${r.url()}`); });
  page.on("pageerror", (e) => out.errors.push(String(e)));

  // the regulator's dashboard
  out.anonymous = (await page.goto(`${base}/`)).status();
  await signIn(page, `${base}/`, regulator);
  out.failed = []; // the sign-in form itself came with a 401
  await page.waitForSelector("body[data-loaded=true]");
  await page.waitForSelector("#violations-table tbody tr");
  await page.waitForTimeout(500); // charts draw
  const value = (id) => page.$eval(`#${id}`, (n) => n.dataset.value);
  out.kpi = {};
  for (const id of ["kpi-open", "kpi-retracted", "kpi-events-total", "kpi-events-rate", "kpi-rate-RN", "kpi-rate-IN", "kpi-rate-XR"]) {
    out.kpi[id] = await value(id);
  }
  out.kpiText = await page.$eval("#kpi-rate-RN", (n) => n.textContent);
  out.prefectures = await page.$$eval("#prefecture-table tbody tr", (rows) => rows.map((r) => ({
    prefecture: r.dataset.prefecture, name: r.children[1].textContent,
    parcels: r.querySelector("[data-field=parcels]").textContent,
    open: r.querySelector("[data-field=open]").textContent })));
  out.labels = await page.$$eval(".kpi h2", (hs) => hs.map((h) => h.textContent.replace(/\s+/g, " ").trim()));
  out.charts = await page.$$eval("canvas", (cs) => cs.map((c) => ({ id: c.id, drawn: c.width > 0 && c.height > 0 })));
  await page.screenshot({ path: path.join(artifacts, "dashboard.png"), fullPage: true });
  // drill down from a parcel of the violation list to its trace
  const link = await page.$("#violations-table a.waybill");
  out.drilled = await link.textContent();
  await link.click();
  await page.waitForSelector("#trace-events tbody tr");
  out.traceRows = await page.$$eval("#trace-events tbody tr", (rows) => rows.length);
  out.traceTitle = await page.$eval("#trace h3", (n) => n.textContent);
  out.traceTimes = await page.$$eval("#trace-events tbody tr td.time", (tds) => tds.map((td) => td.textContent));
  // live refresh: the "updated" time moves on by itself
  const before = await page.$eval("#updated", (n) => n.textContent);
  await page.waitForFunction((t) => document.getElementById("updated").textContent !== t, before, { timeout: 15000 });
  out.refreshed = true;

  // the auditor page: search a waybill, pin the key, verify every proof in the browser
  await page.goto(`${base}/`);
  await page.click("text=退出 Sign out");
  await signIn(page, `${base}/auditor`, auditor);
  out.failedAfterSignOut = out.failed.filter((f) => !f.startsWith("401 "));
  await page.waitForSelector("body[data-loaded=true]");
  await page.fill("#query-id", out.drilled);
  await page.click("#search-button");
  await page.waitForSelector("#results tbody tr");
  await page.click("#fetch-key");
  await page.waitForFunction(() => document.getElementById("pinned-id").textContent !== "—");
  await page.click("#verify-all");
  await page.waitForFunction(() => [...document.querySelectorAll("#results tbody td[data-status]")]
    .every((td) => td.dataset.status !== ""), null, { timeout: 30000 });
  out.proofs = await page.$$eval("#results tbody td[data-status]", (tds) => tds.map((td) => td.dataset.status));
  out.proofText = await page.$eval("#results tbody td[data-status]", (td) => td.textContent);
  out.lastCheckpoint = await page.$eval("#last-checkpoint", (n) => n.textContent);
  out.auditorTimes = await page.$$eval("#results tbody tr td.time", (tds) => tds.map((td) => td.textContent));
  await page.screenshot({ path: path.join(artifacts, "auditor.png"), fullPage: true });
  await context.close();
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => { console.error(err); process.exit(1); });
