// An ente's administrator invites a viewer and an auditor with the operator CLI; each
// opens the one-time link, chooses a password and sees exactly what the role allows.
// axe-core checks the set-password, statistics and account pages.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { startSatisfy, launchBrowser, demoEntrypoint, api, createEntrypoint, ADMIN_PASSWORD } from "../harness.mjs";

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
    // The sign-in form says the password is saved, with the username filled in.
    await page.waitForURL(/\/console\/login\?password_set=/);
    assert.match(await page.getByRole("status").textContent(), /Password salvata/);
    assert.equal(await page.inputValue("#username"), username);
    await page.fill("#password", password);
    await page.click("button[type=submit]");
    // Readers land on the overview: every entrypoint with its trend.
    await page.waitForURL(/\/console\/overview$/);
    assert.ok(await page.getByRole("link", { name: demo.name }).isVisible());
    assert.ok(await page.locator("#watch").isVisible());
    assert.deepEqual(await axeViolations(page), []);
    await page.selectOption("select[name=period]", "year");
    await page.getByRole("button", { name: "Mostra" }).click();
    await page.waitForURL(/period=year/);
    assert.deepEqual(await axeViolations(page), []);

    const stats = await page.goto(`${server.base}/console/entrypoints/${demo.id}/stats`);
    assert.equal(stats.status(), 200);
    assert.equal(await page.getByText("Ultimi commenti").count(), seesComments ? 1 : 0);
    assert.deepEqual(await axeViolations(page), []);
    // Each chart comes with its data table and downloads as SVG and PNG.
    for (const chart of ["ratings", "stars", "answers"]) {
      assert.ok(await page.locator(`#chart-${chart} svg`).isVisible());
      assert.equal(await page.locator(`#chart-${chart} details table`).count(), 1);
    }
    for (const [chart, format] of [["ratings", "png"], ["stars", "svg"]]) {
      const file = page.waitForEvent("download");
      await page.locator(`#chart-${chart} button[data-chart-download=${format}]`).click();
      const download = await file;
      assert.equal(download.suggestedFilename(), `${chart}.${format}`);
      const bytes = await (await import("node:fs/promises")).readFile(await download.path());
      assert.ok(format === "png" ? bytes.subarray(1, 4).toString() === "PNG" : bytes.toString().startsWith("<svg"));
    }
    // Exports download with their progress shown.
    const download = page.waitForEvent("download");
    await page.getByRole("link", { name: "Valutazioni (CSV)" }).click();
    assert.match((await download).suggestedFilename(), /^valutazioni-.*\.csv$/);
    await page.getByText(/Esportazione completata/).waitFor();
    const comments = await page.goto(`${server.base}/console/entrypoints/${demo.id}/comments`);
    assert.equal(comments.status(), seesComments ? 200 : 403);
    if (seesComments) {
      // A comment to find, posted as the widget does from the ente's site.
      const posted = await fetch(`${server.base}/v1/ratings`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: server.base },
        body: JSON.stringify({ id: crypto.randomUUID(), entrypoint: demo.id, page: `${server.base}/demo`,
          rating: 2, lang: "it", comment: "Non trovo l'orario dello sportello" }),
      });
      assert.equal(posted.status, 202);
      await page.reload();
      await page.fill("input[name=q]", "orario");
      await page.getByRole("button", { name: "Mostra" }).click();
      await page.waitForURL(/q=orario/);
      assert.deepEqual(await axeViolations(page), []);
      // The selection exports with its rows counted as they arrive (its size is not
      // known beforehand).
      const selection = page.waitForEvent("download");
      await page.getByRole("link", { name: "Valutazioni (CSV)" }).click();
      const saved = await (await import("node:fs/promises")).readFile(await (await selection).path(), "utf8");
      const rows = saved.trim().split("\r\n").length - 1;
      await page.getByText(`Esportazione completata: ${rows} righe.`).waitFor();
      assert.ok(saved.toLowerCase().includes("orario"));
    }
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
  await page.waitForURL(/\/console\/(overview|entrypoints)$/);
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
  assert.ok(await page.getByRole("row", { name: /admin Token creato token_created/ }).isVisible());
  assert.deepEqual(await axeViolations(page), []);
  await context.close();
});

async function signInAsPlatformAdmin(locale) {
  const context = await browser.newContext({ locale, bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${server.base}/console/login`);
  await page.fill("#username", "admin");
  await page.fill("#password", ADMIN_PASSWORD);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/console\/(overview|entrypoints)$/);
  return { context, page };
}

test("a platform administrator creates, edits, suspends and resumes an ente", async () => {
  const { context, page } = await signInAsPlatformAdmin("it-IT");
  await page.getByRole("link", { name: "Enti", exact: true }).click();
  await page.waitForURL(/\/console\/tenants$/);
  const create = page.locator('form[action="/console/tenants"]');
  // A wrong time zone is refused with a message, the typed values kept.
  await create.locator("#slug").fill("altrove");
  await create.locator("#tenant-name").fill("Comune di Altrove");
  await create.locator("#site-url").fill("https://www.comune.altrove.it");
  await create.locator("#time-zone").fill("Europe/Atlantide");
  await create.locator('input[name="lang_de"]').check();
  await create.locator("button[type=submit]").click();
  await page.getByRole("alert").filter({ hasText: "Fuso orario sconosciuto" }).waitFor();
  assert.equal(await create.locator("#tenant-name").inputValue(), "Comune di Altrove");
  assert.deepEqual(await axeViolations(page), []);
  await create.locator("#time-zone").fill("Europe/Rome");
  await create.locator("button[type=submit]").click();
  await page.waitForURL(/\/console\/tenants$/);
  const row = page.getByRole("row", { name: /altrove/ });
  assert.match(await row.textContent(), /Comune di Altrove.*https:\/\/www\.comune\.altrove\.it.*Europe\/Rome.*it, de.*Attivo/s);

  await row.getByRole("link", { name: /Modifica/ }).click();
  await page.waitForURL(/\/console\/tenants\/altrove\/edit$/);
  assert.deepEqual(await axeViolations(page), []);
  await page.fill("#tenant-name", "Comune di Altrove Terme");
  await page.fill("#ipa-code", "c_a999");
  await page.click("main form button[type=submit]");
  await page.waitForURL(/\/console\/tenants$/);
  const edited = page.getByRole("row", { name: /altrove/ });
  assert.match(await edited.textContent(), /Comune di Altrove Terme.*c_a999/s);

  await edited.getByRole("button", { name: /Sospendi/ }).click();
  await page.waitForURL(/\/console\/tenants$/);
  assert.match(await page.getByRole("row", { name: /altrove/ }).textContent(), /Sospeso/);
  await page.getByRole("row", { name: /altrove/ }).getByRole("button", { name: /Riattiva/ }).click();
  await page.waitForURL(/\/console\/tenants$/);
  assert.match(await page.getByRole("row", { name: /altrove/ }).textContent(), /Attivo/);

  // The new ente is one switch away in the header; its team starts empty.
  await page.selectOption("#tenant-switch", "altrove");
  await page.locator("form.tenant-switch button").click();
  await page.waitForURL(/\/console\/(overview|entrypoints)$/);
  await page.goto(`${server.base}/console/users`);
  assert.equal(await page.locator("tbody tr").count(), 0);
  await context.close();
});

for (const locale of ["en-GB", "de-DE"]) {
  test(`the tenant, team, token, audit and account pages pass axe in ${locale}`, async () => {
    const { context, page } = await signInAsPlatformAdmin(locale);
    for (const path of ["/console/tenants", "/console/tenants/comune/edit", "/console/users",
      "/console/tokens", "/console/audit", "/console/privacy", "/console/account"]) {
      const response = await page.goto(`${server.base}${path}`);
      assert.equal(response.status(), 200, path);
      assert.deepEqual(await axeViolations(page), [], `${locale} ${path}`);
    }
    await context.close();
  });
}

test("the administrator checks the site for PNRR compliance; the report passes axe in it, en and de", async () => {
  // The ente's site is Satisfy's own demo page: a live widget and no Modello Comuni menu.
  execFileSync(server.binary, ["admin", "--data-dir", server.dataDir, "tenants", "update",
    "--slug", "comune", "--site-url", `${server.base}/demo`], { env: { ...process.env, RUST_LOG: "error" } });
  const { context, page } = await signInAsPlatformAdmin("it-IT");
  await page.getByRole("link", { name: "Conformità PNRR" }).click();
  await page.waitForURL(/\/console\/compliance$/);
  assert.deepEqual(await axeViolations(page), [], "before any run");
  await page.getByRole("button", { name: "Avvia un controllo" }).click();
  await page.waitForURL(/\/console\/compliance$/);
  for (let i = 0; i < 120 && (await page.getByText("Controllo in corso o in coda").count()) > 0; i++) {
    await new Promise((r) => setTimeout(r, 500));
    await page.reload();
  }
  await page.getByText("C.SI.2.5: non superato").waitFor();
  // The demo page itself conforms: only the pages the validator could not find fail.
  assert.equal(await page.locator("table.compliance tbody tr").first().locator(".verdict").textContent(), "conforme");
  for (const [locale, title] of [["it-IT", "Conformità PNRR"], ["en-GB", "PNRR compliance"], ["de-DE", "PNRR-Konformität"]]) {
    const localized = await browser.newContext({ locale, bypassCSP: true });
    await localized.addCookies(await context.cookies());
    const view = await localized.newPage();
    await view.goto(`${server.base}/console/compliance`);
    assert.equal(await view.locator("h1").textContent(), title);
    assert.deepEqual(await axeViolations(view), [], locale);
    await localized.close();
  }
  await context.close();
});

test("the snippet page previews the live widget in it, en and de; a citizen's click there stores nothing", async () => {
  const demo = await demoEntrypoint(server.base);
  const stats = async () => (await api(server.base, `/api/v1/entrypoints/${demo.id}/stats?granularity=day`)).summary.count;
  const before = await stats();
  const { context, page } = await signInAsPlatformAdmin("it-IT");
  await page.goto(`${server.base}/console/entrypoints/${demo.id}/snippet`);
  const titles = { it: "Quanto sono chiare le informazioni su questa pagina?",
    en: "How clear is the information on this page?", de: "Wie verständlich sind die Informationen auf dieser Seite?" };
  for (const lang of ["it", "en", "de"]) {
    const frame = page.frameLocator(`iframe[src$="preview?lang=${lang}"]`);
    const widget = frame.locator('[data-element="feedback"][data-satisfy-engine]');
    await widget.waitFor({ timeout: 15_000 });
    assert.equal((await frame.locator('[data-element="feedback-title"]').textContent()).trim(), titles[lang]);
  }
  // A real, trusted click on the Italian preview: the follow-up opens, nothing is sent.
  const italian = page.frameLocator('iframe[src$="preview?lang=it"]');
  await italian.locator('[data-element="feedback-rate-2"]').click();
  await italian.locator('[data-element="feedback-rating-negative"]').waitFor({ state: "visible" });
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(await stats(), before, "a preview stores no rating");
  assert.deepEqual(await axeViolations(page), [], "the snippet page with its previews");
  // Every kind previews its own questions.
  for (const [kind, extra, title] of [
    ["scheda_servizio", {}, titles.it],
    ["valutazione_servizio", {}, "Quanto è stato facile usare questo servizio?"],
    ["personalizzato", { custom: { question: "Come valuti lo sportello telematico?",
      follow_ups: [{ question: "Quanto hai atteso?", options: ["Poco", "Troppo"] }] } }, "Come valuti lo sportello telematico?"],
  ]) {
    const id = await createEntrypoint(server.base, { name: `Anteprima ${kind}`, kind, allowed_origins: [server.base], ...extra });
    await page.goto(`${server.base}/console/entrypoints/${id}/snippet`);
    const frame = page.frameLocator('iframe[src$="preview?lang=it"]');
    await frame.locator('[data-element="feedback"][data-satisfy-engine]').waitFor({ timeout: 15_000 });
    assert.equal((await frame.locator('[data-element="feedback-title"]').textContent()).trim(), title, kind);
  }
  await context.close();
});
