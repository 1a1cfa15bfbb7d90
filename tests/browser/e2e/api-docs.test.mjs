// The API documentation page: Swagger UI, vendored from npm and served by the binary,
// renders the generated OpenAPI document with every route, talking to this server only.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startSatisfy, launchBrowser } from "../harness.mjs";

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

test("/api/v1/docs renders every route of the generated spec from this server alone", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const origins = new Set();
  page.on("request", (request) => origins.add(new URL(request.url()).origin));
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  const response = await page.goto(`${server.base}/api/v1/docs`);
  assert.equal(response.status(), 200);
  await page.locator(".opblock").first().waitFor({ timeout: 15_000 });
  const spec = await (await fetch(`${server.base}/api/v1/openapi.json`)).json();
  const shown = await page.locator(".opblock-summary-path").allTextContents();
  for (const path of Object.keys(spec.paths)) {
    assert.ok(shown.some((s) => s.replace(/\u200b/g, "") === path), `${path} is documented`);
  }
  assert.deepEqual([...origins], [server.base], "nothing loaded from elsewhere");
  assert.deepEqual(errors, []);
  await context.close();
});
