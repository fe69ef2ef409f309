// Drives the risk page in headless Debian Chromium with playwright-core, as the regulator then as an enterprise;
// prints what the pages show as JSON.
//   node risk_browser.cjs BASE_URL REGULATOR_TOKEN ENTERPRISE_TOKEN ARTIFACT_DIR USER_DATA_DIR
"use strict";
const path = require("path");
const { chromium } = require(path.join(process.env.PLAYWRIGHT_DIR, "node_modules", "playwright-core"));

const [base, regulator, enterprise, artifacts, profile] = process.argv.slice(2);
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const KINDS = ["enterprise", "site", "staff", "sender", "machine", "vehicle", "city"];

async function signIn(page, url, token) {
  await page.goto(url);
  await page.fill("#token", token);
  await Promise.all([page.waitForNavigation(), page.click("#sign-in")]);
}

async function rankings(page) {
  const out = {};
  for (const kind of KINDS) {
    await page.click(`#kinds button[data-kind=${kind}]`);
    await page.waitForSelector(`#ranking[data-loaded=${kind}]`);
    out[kind] = {
      sources: await page.$$eval("#ranking tbody tr", (rows) => rows.map((r) => r.dataset.source)),
      enterprises: await page.$$eval("#ranking tbody tr", (rows) => rows.map((r) => r.children[2].textContent)),
      note: await page.$eval("#ranking-note", (n) => n.textContent),
    };
    if (out[kind].sources.length) {
      await page.click("#ranking tbody tr:first-child");
      await page.waitForSelector("#evidence:not([hidden])");
      out[kind].evidence = {
        source: await page.$eval("#evidence", (n) => n.dataset.source),
        ids: await page.$$eval("#evidence-ids li", (lis) => lis.map((li) => li.textContent)),
        rules: await page.$$eval("#evidence-rules tbody tr", (rows) => Object.fromEntries(rows.map((r) =>
          [r.dataset.rule, Number(r.children[1].textContent.replace(/,/g, ""))]))),
        trend: await page.$eval("#evidence-trend", (n) => n.textContent),
      };
    }
  }
  return out;
}

async function tables(page) {
  return {
    credit: await page.$$eval("#credit-table tbody tr", (rows) => rows.map((r) => ({
      enterprise: r.dataset.enterprise, grade: r.querySelector("[data-field=grade]").textContent,
      previous: r.querySelector("[data-field=previous]").textContent,
      change: r.querySelector("[data-field=change]").className }))),
    warnings: await page.$$eval("#warnings-table tbody tr", (rows) => rows.map((r) => ({
      kind: r.dataset.kind, subject: r.dataset.subject, at: r.children[0].dataset.value, shown: r.children[0].textContent,
      enterprise: r.children[6].textContent }))),
  };
}

async function main() {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium", headless: true, args: ARGS, viewport: { width: 1400, height: 1800 },
  });
  const out = { foreign: [], errors: [] };
  context.on("request", (r) => { if (!r.url().startsWith(base) && !r.url().startsWith("data:")) out.foreign.push(r.url()); });
  const page = context.pages()[0] || await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) out.errors.push(m.text());
  });
  page.on("pageerror", (e) => out.errors.push(String(e)));

  out.anonymous = (await page.goto(`${base}/risk`)).status();
  await signIn(page, `${base}/risk`, regulator);
  await page.waitForSelector("body[data-loaded=true]");
  await page.waitForSelector("#map[data-drawn=true]");
  out.regulator = {
    url: page.url(),
    error: await page.$eval("#error", (n) => (n.hidden ? "" : n.textContent)),
    map: await page.$$eval("#map path.city", (ps) => ps.map((p) => ({ code: p.dataset.code, level: p.dataset.level,
      fill: getComputedStyle(p).fill }))),
    asOf: await page.$eval("#as-of", (n) => ({ text: n.textContent, value: n.dataset.value })),
    known: await page.evaluate(() => [GS.beijing("2026-11-30T06:05:00Z"), GS.beijing("2026-12-31T21:35:07.5+05:30")]),
    ...(await tables(page)),
  };
  await page.screenshot({ path: path.join(artifacts, "risk.png"), fullPage: true });
  out.regulator.rankings = await rankings(page);

  // the dashboard's violation list shows its times in Beijing time too
  await page.goto(`${base}/`);
  await page.waitForSelector("#violations-table tbody tr");
  out.dashboardTime = await page.$eval("#violations-table tbody tr td.time", (n) => n.textContent);
  out.dashboardWaybill = await page.$eval("#violations-table tbody tr a.waybill", (n) => n.textContent);
  await page.click("text=退出 Sign out");

  // an enterprise: the same page, its own scope
  await signIn(page, `${base}/`, enterprise);
  await page.waitForSelector("body[data-loaded=true]");
  out.enterprise = {
    url: page.url(),
    error: await page.$eval("#error", (n) => (n.hidden ? "" : n.textContent)),
    map: await page.$$eval("#map path.city", (ps) => ps.length),
    mapNote: await page.$eval("#map-note", (n) => !n.hidden),
    dashboardLink: await page.$eval("#nav-dashboard", (n) => !n.hidden),
    ...(await tables(page)),
  };
  out.enterprise.rankings = await rankings(page);
  out.enterprise.text = await page.$eval("body", (b) => b.innerText);
  await page.screenshot({ path: path.join(artifacts, "risk-enterprise.png"), fullPage: true });
  out.enterprise.dashboard = (await page.goto(`${base}/`)).status();
  await context.close();
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => { console.error(err); process.exit(1); });
