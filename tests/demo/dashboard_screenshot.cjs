// The README's screenshot of the dashboard during `greenshield demo`, in headless Debian Chromium (playwright-core,
// installed into var/playwright by tests/api/test_dashboard_browser.py or `npm install --prefix var/playwright
// playwright-core@1.65.1`):
//   PLAYWRIGHT_DIR=var/playwright node tests/demo/dashboard_screenshot.cjs DASHBOARD_URL REGULATOR_TOKEN docs/dashboard.png
"use strict";
const path = require("path");
const { chromium } = require(path.resolve(process.env.PLAYWRIGHT_DIR, "node_modules", "playwright-core"));

const [base, token, out] = process.argv.slice(2);
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync"];

async function main() {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ARGS });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, deviceScaleFactor: 1 });
  await page.goto(base);
  await page.fill("#token", token);
  await Promise.all([page.waitForNavigation(), page.click("#sign-in")]);
  await page.waitForSelector("body[data-loaded=true]");
  await page.waitForSelector("#violations-table tbody tr");
  await page.waitForTimeout(1500); // the charts' animation
  await page.screenshot({ path: out, fullPage: false });
  await browser.close();
}

main().catch((err) => { console.error(err); process.exit(1); });
