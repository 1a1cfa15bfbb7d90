// An ente's administrator invites a viewer and an auditor with the operator CLI; each
// opens the one-time link, chooses a password and sees exactly what the role allows.
// axe-core checks the set-password, statistics and account pages.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { startSatisfy, launchBrowser, demoEntrypoint, ADMIN_PASSWORD } from "../harness.mjs";

const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");

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

function invite(username, role) {
  return execFileSync(server.binary, ["admin", "--data-dir", server.dataDir, "users", "create",
    "--tenant", "comune", "--username", username, "--role", role, "--public-url", server.base],
  { env: { ...process.env, RUST_LOG: "error" } }).toString().trim();
}

async function axeViolations(page) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
  }));
  return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(" ")}`);
}

for (const [username, role, seesComments] of [["viewer.rossi", "viewer", true], ["auditor.verdi", "auditor", false]]) {
  test(`an invited ${role} sets a password and sees what the role allows`, async () => {
    const demo = await demoEntrypoint(server.base);
    const link = invite(username, role);
    // bypassCSP only lets axe be injected: the console's CSP forbids inline scripts.
    const context = await browser.newContext({ locale: "it-IT", bypassCSP: true });
    const page = await context.newPage();
    await page.goto(link);
    assert.deepEqual(await axeViolations(page), []);
    const password = `${username}-tramonto-sul-serchio`;
    await page.fill("#password", password);
    await page.fill("#confirm", password);
    await page.click("button[type=submit]");
    await page.waitForURL(/\/console\/login$/);
    await page.fill("#username", username);
    await page.fill("#password", password);
    await page.click("button[type=submit]");
    await page.waitForURL(/\/console\/entrypoints$/);
    assert.ok(await page.getByText(demo.name).isVisible());

    const stats = await page.goto(`${server.base}/console/entrypoints/${demo.id}/stats`);
    assert.equal(stats.status(), 200);
    assert.equal(await page.getByText("Ultimi commenti").count(), seesComments ? 1 : 0);
    assert.deepEqual(await axeViolations(page), []);
    const edit = await page.goto(`${server.base}/console/entrypoints/${demo.id}/edit`);
    assert.equal(edit.status(), 403);

    const account = await page.goto(`${server.base}/console/account`);
    assert.equal(account.status(), 200);
    assert.deepEqual(await axeViolations(page), []);

    // The link worked once.
    const reused = await page.goto(link);
    assert.equal(reused.status(), 410);
    await context.close();
  });
}

test("the administrator's users, tokens and audit pages pass axe", async () => {
  const context = await browser.newContext({ locale: "it-IT", bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${server.base}/console/login`);
  await page.fill("#username", "admin");
  await page.fill("#password", ADMIN_PASSWORD);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/console\/entrypoints$/);
  await page.goto(`${server.base}/console/users`);
  await page.fill("#username", "nuovo.utente");
  await page.selectOption("#role", "editor");
  await page.getByRole("button", { name: "Crea l'utente" }).click();
  await page.locator("#invitation-link").waitFor();
  assert.deepEqual(await axeViolations(page), []);
  await page.goto(`${server.base}/console/tokens`);
  await page.fill("#token-name", "Cruscotto");
  await page.check('input[name="scope"][value="read"]');
  await page.getByRole("button", { name: "Crea il token" }).click();
  assert.match(await page.locator("#new-token").textContent(), /^sat_[0-9a-f]{12}_/);
  assert.deepEqual(await axeViolations(page), []);
  await page.goto(`${server.base}/console/audit`);
  assert.ok(await page.getByRole("row", { name: /admin token_created/ }).isVisible());
  assert.deepEqual(await axeViolations(page), []);
  await context.close();
});
