// A newcomer's first start generates the demo ente's year of service events; within a
// minute the platform administrator switches to it and reads full KPI pages. axe-core
// checks the Servizi pages in Italian, English and German.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { startSatisfy, launchBrowser, ADMIN_PASSWORD } from "../harness.mjs";

const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");

let server;
let browser;
before(async () => {
  server = await startSatisfy({ demoData: true });
  browser = await launchBrowser();
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

async function signIn(locale) {
  const context = await browser.newContext({ locale, bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${server.base}/console/login`);
  await page.fill("#username", "admin");
  await page.fill("#password", ADMIN_PASSWORD);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/console\/(overview|entrypoints)$/);
  return { context, page };
}

test("within a minute of the first start the demo ente shows full KPI pages", async () => {
  const started = Date.now();
  const { context, page } = await signIn("it-IT");
  // The demo ente appears in the header once generated.
  for (;;) {
    await page.goto(`${server.base}/console/services`);
    const options = await page.locator("#tenant-switch option[value=demo]").count();
    if (options === 1) {
      await page.selectOption("#tenant-switch", "demo");
      await page.locator("form.tenant-switch button").click();
      await page.goto(`${server.base}/console/services`);
      if (await page.locator("table.ranking tbody tr").count() === 4) break;
    }
    assert.ok(Date.now() - started < 60_000, "the demo data was not ready within a minute");
    await new Promise((r) => setTimeout(r, 500));
  }
  const names = await page.locator("table.ranking tbody th").allTextContents();
  assert.deepEqual([...names].sort(), ["Cambio di residenza", "Carta d'identità elettronica", "Mensa scolastica", "TARI - Tassa sui rifiuti"]);
  assert.deepEqual(await axeViolations(page), []);

  await page.getByRole("link", { name: "Carta d'identità elettronica" }).click();
  await page.waitForURL(/\/console\/services\/cie\?/);
  // The appointment card has figures, their change and the definition one click away.
  const bookings = page.locator("#figure-bookings");
  assert.match(await bookings.locator(".figure-value").textContent(), /^\d+$/);
  assert.match(await bookings.textContent(), /rispetto al periodo precedente/);
  await bookings.locator("summary").click();
  assert.ok(await bookings.getByText("Appuntamenti prenotati nel periodo").isVisible());
  assert.match(await page.locator("#figure-saturation .figure-value").textContent(), /%$/);
  assert.ok(await page.locator("figure.chart svg").count() >= 2);
  assert.deepEqual(await axeViolations(page), []);

  // Filters keep the page working; the CSV export downloads.
  await page.selectOption("select[name=granularity]", "month");
  await page.getByRole("button", { name: "Mostra" }).click();
  await page.waitForURL(/granularity=month/);
  const href = await page.getByRole("link", { name: "Scarica CSV" }).getAttribute("href");
  const csv = await page.request.get(new URL(href, server.base).toString());
  assert.equal(csv.status(), 200);
  assert.match(await csv.text(), /^\ufeffstart,end,/);
  await context.close();
});

for (const locale of ["en-GB", "de-DE"]) {
  test(`the Servizi pages pass axe in ${locale}`, async () => {
    const { context, page } = await signIn(locale);
    await page.selectOption("#tenant-switch", "demo");
    await page.locator("form.tenant-switch button").click();
    await page.waitForURL(/\/console\/(overview|entrypoints)$/);
    await page.goto(`${server.base}/console/services`);
    assert.deepEqual(await axeViolations(page), []);
    await page.goto(`${server.base}/console/services/residenza`);
    assert.ok(await page.locator("#figure-submitted").isVisible());
    assert.deepEqual(await axeViolations(page), []);
    await context.close();
  });
}
