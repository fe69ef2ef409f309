// The README's screenshots in headless Debian Chromium (playwright-core, installed into var/playwright by
// tests/api/test_dashboard_browser.py or `npm install --prefix var/playwright playwright-core@1.65.1`):
//   the dashboard during `greenshield demo`:
//     PLAYWRIGHT_DIR=var/playwright node tests/demo/dashboard_screenshot.cjs DASHBOARD_URL REGULATOR_TOKEN docs/dashboard.png
//   the risk page over the planted day of tests/api/riskworld.py (README, "Dashboard"):
//     PLAYWRIGHT_DIR=var/playwright node tests/demo/dashboard_screenshot.cjs BASE_URL/risk REGULATOR_TOKEN docs/risk-dashboard.png
"use strict";
const path = require("path");
const { chromium } = require(path.resolve(process.env.PLAYWRIGHT_DIR, "node_modules", "playwright-core"));

const [base, token, out] = process.argv.slice(2);
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync"];
const RISK = /\/risk$/.test(base);

async function main() {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ARGS });
  const page = await browser.newPage({ viewport: { width: 1400, height: RISK ? 1150 : 1000 }, deviceScaleFactor: 1 });
  await page.goto(base);
  await page.fill("#token", token);
  await Promise.all([page.waitForNavigation(), page.click("#sign-in")]);
  await page.waitForSelector("body[data-loaded=true]");
  if (RISK) {
    await page.waitForSelector("#map[data-drawn=true]");
    await page.click("#kinds button[data-kind=staff]");
    await page.waitForSelector("#ranking[data-loaded=staff] tbody tr");
    await page.click("#ranking tbody tr");
    await page.waitForTimeout(300);
  } else {
    await page.waitForSelector("#violations-table tbody tr");
    await page.waitForTimeout(1500); // the charts' animation
  }
  await page.screenshot({ path: out, fullPage: false });
  await browser.close();
}

main().catch((err) => { console.error(err); process.exit(1); });
