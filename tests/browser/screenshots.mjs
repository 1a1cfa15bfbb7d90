// Takes the README's screenshots from a real running Satisfy: the widget on the demo
// page and on a Bootstrap Italia page built like the Modello Comuni templates (desktop and
// phone), and the console's statistics. Run: npm run screenshots (after cargo build).
import { mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { randomUUID } from "node:crypto";
import { execFileSync } from "node:child_process";
import { startSatisfy, launchBrowser, demoEntrypoint, createEntrypoint, ADMIN_PASSWORD } from "./harness.mjs";
import { startSite } from "./fixtures/site.mjs";

const out = join(dirname(fileURLToPath(import.meta.url)), "../../docs/screenshots");
mkdirSync(out, { recursive: true });

const server = await startSatisfy();
const site = await startSite(server.base);
const browser = await launchBrowser();
try {
  const demo = await demoEntrypoint(server.base);
  // A few weeks of ratings so the chart has something to show.
  const pages = ["/servizi/cie", "/servizi/tari", "/novita/avvisi"];
  for (let i = 0; i < 40; i++) {
    const rating = [5, 4, 4, 3, 2, 5, 1, 4][i % 8];
    const body = {
      id: randomUUID(), entrypoint: demo.id, page: server.base + pages[i % 3], rating,
      answers: rating <= 3 ? ["incomplete"] : ["clear"], lang: "it",
      comment: i % 9 === 0 ? "Non trovo gli orari dello sportello" : null,
    };
    await fetch(`${server.base}/v1/ratings`, { method: "POST", headers: { "content-type": "application/json", origin: server.base }, body: JSON.stringify(body) });
  }

  const page = await browser.newPage({ viewport: { width: 1100, height: 900 }, locale: "it-IT" });
  await page.goto(`${server.base}/demo`);
  await page.click('[data-element="feedback-rate-4"]');
  await page.locator('[data-element="feedback-rating-positive"]').waitFor({ state: "visible" });
  await page.locator('[data-element="feedback"]').screenshot({ path: join(out, "widget.png") });

  // The template's static component taken over on a Bootstrap Italia page with a comune theme.
  const ep = await createEntrypoint(server.base, { name: "Sito del Comune", kind: "pagina_web", allowed_origins: [site.origin] });
  for (const [width, file, crop] of [[1280, "widget-bootstrap-italia.png", "#static-band"],
    [375, "widget-bootstrap-italia-phone.png", '[data-element="feedback"]']]) {
    const themed = await browser.newPage({ viewport: { width, height: 900 }, locale: "it-IT" });
    await themed.goto(site.url({ ep, snippet: "body" }));
    await themed.locator('[data-element="feedback"][data-satisfy-engine]').waitFor();
    await themed.click('[data-element="feedback-rate-2"]');
    await themed.locator('[data-element="feedback-rating-negative"] label').nth(1).click();
    await themed.mouse.move(0, 0);
    await themed.evaluate(() => document.activeElement?.blur());
    await themed.waitForTimeout(300); // the theme's radio transition
    await themed.locator(crop).screenshot({ path: join(out, file) });
    await themed.close();
  }

  await page.goto(`${server.base}/console/login`);
  await page.fill("#username", "admin");
  await page.fill("#password", ADMIN_PASSWORD);
  await page.click("button[type=submit]");
  await page.goto(`${server.base}/console/entrypoints`);
  await page.screenshot({ path: join(out, "console-entrypoints.png") });

  // The demo ente's website after `satisfy demo-data`: the overview a dirigente lands on,
  // and the statistics with their charts.
  execFileSync(server.binary, ["demo-data", "--data-dir", server.dataDir, "--ratings", "30000",
    "--days", "120", "--seed", "11"], { env: { ...process.env, RUST_LOG: "error" } });
  await page.goto(`${server.base}/console/overview`);
  await page.selectOption("#tenant-switch", "demo");
  await page.locator("form.tenant-switch button").click();
  await page.waitForURL(/\/console\/overview$/);
  await page.screenshot({ path: join(out, "console-overview.png"), fullPage: true });
  const phone = await browser.newPage({ viewport: { width: 375, height: 800 }, locale: "it-IT",
    storageState: await page.context().storageState() });
  await phone.goto(`${server.base}/console/overview`);
  await phone.screenshot({ path: join(out, "console-overview-phone.png") });
  await phone.close();
  await page.locator("#overview-entrypoints a").first().click();
  await page.selectOption("select[name=period]", "90d");
  await page.getByRole("button", { name: "Mostra" }).click();
  await page.waitForURL(/period=90d/);
  await page.screenshot({ path: join(out, "console-stats.png"), fullPage: true });
  console.log(`screenshots written to ${out}`);
} finally {
  await browser.close();
  await site.stop();
  await server.stop();
}
