// A citizen rates the demo page with the mouse; the rating reaches the console's stats.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startSatisfy, launchBrowser, api, demoEntrypoint } from "../harness.mjs";

let server;
let browser;
before(async () => {
  server = await startSatisfy();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

async function waitFor(check, what) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("two stars, an answer and a comment reach /api/v1 stats exactly once", async () => {
  const demo = await demoEntrypoint(server.base);
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${server.base}/demo?utm_source=test`);

  const title = page.locator('[data-element="feedback-title"]');
  await title.waitFor();
  assert.equal(await title.textContent(), "Quanto sono chiare le informazioni su questa pagina?");

  await page.click('[data-element="feedback-rate-2"]');
  const negative = page.locator('[data-element="feedback-rating-negative"]');
  await negative.waitFor({ state: "visible" });
  assert.equal(await page.locator('[data-element="feedback-rating-positive"]').isVisible(), false);
  await page.getByText("A volte le indicazioni non erano complete").click();
  await page.getByRole("button", { name: "Avanti" }).click();
  await page.locator('[data-element="feedback-input-text"]').fill("Manca l'orario dello sportello");
  await page.getByRole("button", { name: "Avanti" }).click();
  await page.getByRole("status").filter({ hasText: "Grazie" }).waitFor();

  const stats = await waitFor(async () => {
    const s = await api(server.base, `/api/v1/entrypoints/${demo.id}/stats?granularity=week`);
    return s.comments.length === 1 ? s : null;
  }, "the comment to be stored");
  assert.equal(stats.summary.count, 1);
  assert.deepEqual(stats.summary.distribution, [0, 1, 0, 0, 0]);
  assert.equal(stats.summary.average, 2);
  assert.deepEqual(stats.answers, [{ option: "incomplete", count: 1 }]);
  assert.equal(stats.comments[0].comment, "Manca l'orario dello sportello");
  assert.equal(stats.comments[0].page, `${server.base}/demo`);
  assert.equal(stats.buckets.reduce((n, b) => n + b.count, 0), 1);

  const cookies = await page.context().cookies();
  assert.deepEqual(cookies, [], "the widget must set no cookies");
  assert.deepEqual(errors, []);
  await page.close();
});
