// Every page of the console, on a desktop and on a phone, after `satisfy demo-data` has
// filled the demo ente: axe-core finds no WCAG 2.1 AA violation, and nothing is wider than
// the phone's screen (wide tables scroll inside their box).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { startSatisfy, launchBrowser, ADMIN_PASSWORD } from "../harness.mjs";

const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");

let server;
let browser;
before(async () => {
  server = await startSatisfy();
  browser = await launchBrowser();
  execFileSync(server.binary, ["demo-data", "--data-dir", server.dataDir, "--ratings", "4000",
    "--days", "60", "--seed", "5"], { env: { ...process.env, RUST_LOG: "error" } });
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

async function axeViolations(page) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
  }));
  return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(" ")}`);
}

async function overflow(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

for (const [name, viewport] of [["a desktop", { width: 1280, height: 900 }], ["a phone", { width: 375, height: 800 }]]) {
  test(`every console page passes axe and fits on ${name}`, async () => {
    const context = await browser.newContext({ viewport, locale: "it-IT", bypassCSP: true });
    const page = await context.newPage();
    await page.goto(`${server.base}/console/login`);
    assert.deepEqual(await axeViolations(page), [], "login");
    await page.fill("#username", "admin");
    await page.fill("#password", ADMIN_PASSWORD);
    await page.click("button[type=submit]");
    await page.waitForURL(/\/console\/overview$/);
    await page.selectOption("#tenant-switch", "demo");
    await page.locator("form.tenant-switch button").click();
    await page.waitForURL(/\/console\/overview$/);
    const site = await page.locator("#overview-entrypoints a").first().getAttribute("href");
    const entrypoint = site.split("/")[3];
    const pages = [
      "/console/overview", "/console/overview?period=90d&granularity=week",
      "/console/entrypoints", "/console/entrypoints/new", `/console/entrypoints/${entrypoint}/edit`,
      `/console/entrypoints/${entrypoint}/snippet`, `/console/entrypoints/${entrypoint}/stats?period=90d`,
      `/console/entrypoints/${entrypoint}/comments?period=90d`, "/console/services", "/console/compliance",
      "/console/users", "/console/tokens", "/console/audit", "/console/privacy", "/console/tenants", "/console/tenants/demo/edit",
      "/console/account",
    ];
    for (const path of pages) {
      const response = await page.goto(`${server.base}${path}`);
      assert.equal(response.status(), 200, path);
      // A title of words: no markup slipped into it.
      assert.match(await page.title(), /^[^<>]+ · Satisfy$/, path);
      assert.deepEqual(await axeViolations(page), [], path);
      assert.ok(await overflow(page) <= 1, `${path} is ${await overflow(page)} px wider than the screen`);
    }
    await context.close();
  });
}
