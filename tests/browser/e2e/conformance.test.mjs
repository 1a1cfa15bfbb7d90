// The checks PNRR auditors run with the AgID validator, replicated on the demo page for
// every entrypoint kind, in the WebAssembly path (/demo) and the plain-JS fallback
// (/demo/strict-csp, whose CSP forbids WebAssembly), plus axe-core at every step and a
// rating made with the keyboard alone.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { startSatisfy, launchBrowser, api, createEntrypoint, demoEntrypoint } from "../harness.mjs";

const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");

const NEGATIVE = ["A volte le indicazioni non erano chiare", "A volte le indicazioni non erano complete",
  "A volte non capivo se stavo procedendo correttamente", "Ho avuto problemi tecnici", "Altro"];
const POSITIVE = ["Le indicazioni erano chiare", "Le indicazioni erano complete",
  "Capivo sempre che stavo procedendo correttamente", "Non ho avuto problemi tecnici", "Altro"];
const TITLES = {
  pagina_web: "Quanto sono chiare le informazioni su questa pagina?",
  scheda_servizio: "Quanto sono chiare le informazioni su questa pagina?",
  valutazione_servizio: "Quanto è stato facile usare questo servizio?",
};

let server;
let browser;
const entrypoints = {};
before(async () => {
  server = await startSatisfy();
  browser = await launchBrowser();
  entrypoints.pagina_web = (await demoEntrypoint(server.base)).id;
  for (const [kind, extra] of [["scheda_servizio", {}], ["valutazione_servizio", {}], ["personalizzato", {
    custom: { question: "Come valuti lo sportello telematico?", follow_ups: [
      { question: "Quanto hai atteso?", options: ["Poco", "Il giusto", "Troppo"] },
      { question: "Useresti di nuovo il servizio?", options: ["Sì", "No"] }] },
  }]]) {
    entrypoints[kind] = await createEntrypoint(server.base, { name: `Prova ${kind}`, kind, allowed_origins: [server.base], ...extra });
  }
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

const ENGINES = [["wasm", "/demo"], ["js", "/demo/strict-csp"]];

async function open(path, kind, { bypassCSP = false } = {}) {
  const context = await browser.newContext({ bypassCSP });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${server.base}${path}?entrypoint=${entrypoints[kind]}`);
  await page.locator('[data-element="feedback"][data-satisfy-engine]').waitFor();
  return { page, context, errors };
}

// What the validator does: querySelector, exact textContent, click star N twice, then the
// matching fieldset visible (size > 0, top > 0 after scrolling to the bottom), the other hidden.
async function auditorCheck(page, kind) {
  return page.evaluate(async ({ title, negative, positive }) => {
    const q = (s) => document.querySelector(s);
    const problems = [];
    const expect = (cond, what) => { if (!cond) problems.push(what); };
    expect(document.querySelectorAll('[data-element="feedback"]').length === 1, "exactly one widget");
    expect(q('[data-element="feedback-title"]')?.tagName === "H2", "title is an h2");
    expect(q('[data-element="feedback-title"]')?.textContent === title, "title text");
    expect(q('[data-element="feedback-input-text"]') !== null, "free text input present from the first render");
    const visible = (el) => {
      if (!el) return false;
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && r.top > 0;
    };
    for (let n = 1; n <= 5; n++) {
      const star = q(`[data-element="feedback-rate-${n}"]`);
      expect(star !== null, `star ${n}`);
      expect(star?.tagName === "LABEL", `star ${n} is a label`);
      expect(star?.textContent === `Valuta ${n} stelle su 5`, `star ${n} text: ${star?.textContent}`);
      star.click();
      star.click();
      await new Promise((r) => setTimeout(r, 50));
      const input = document.getElementById(star.htmlFor);
      expect(input?.checked === true, `star ${n} stays selected after a second click`);
      window.scrollTo(0, document.body.scrollHeight);
      const neg = q('[data-element="feedback-rating-negative"]');
      const pos = q('[data-element="feedback-rating-positive"]');
      const [shown, hidden] = n <= 3 ? [neg, pos] : [pos, neg];
      expect(visible(shown), `star ${n}: its follow-up is visible`);
      expect(!visible(hidden), `star ${n}: the other follow-up is hidden`);
      expect(shown?.querySelector('[data-element="feedback-rating-question"]')?.textContent ===
        (n <= 3 ? "Dove hai incontrato le maggiori difficoltà?" : "Quali sono stati gli aspetti che hai preferito?"), `star ${n}: question`);
      const answers = [...shown.querySelectorAll('[data-element="feedback-rating-answer"]')].map((a) => a.textContent);
      expect(JSON.stringify(answers) === JSON.stringify(n <= 3 ? negative : positive), `star ${n}: answers ${answers}`);
    }
    for (const el of document.querySelectorAll('[data-element^="feedback"]')) {
      expect(!/[\n\u00a0]/.test(el.textContent), `no line breaks or nbsp in ${el.dataset.element}`);
    }
    expect(document.cookie === "", "no cookies");
    return problems;
  }, { title: TITLES[kind], negative: NEGATIVE, positive: POSITIVE });
}

for (const [engine, path] of ENGINES) {
  for (const kind of ["pagina_web", "scheda_servizio", "valutazione_servizio"]) {
    test(`${engine}: ${kind} passes the auditors' check`, async () => {
      const stored = (await api(server.base, `/api/v1/entrypoints/${entrypoints[kind]}/stats?granularity=day`)).summary.count;
      const { page, context, errors } = await open(path, kind);
      assert.equal(await page.getAttribute('[data-element="feedback"]', "data-satisfy-engine"), engine);
      assert.deepEqual(await auditorCheck(page, kind), []);
      assert.deepEqual(await context.cookies(), []);
      assert.deepEqual(errors, []);
      // The auditors' synthetic clicks (isTrusted false) are not ratings, even on leaving.
      await page.goto("about:blank");
      await context.close();
      await new Promise((r) => setTimeout(r, 1000));
      const after = (await api(server.base, `/api/v1/entrypoints/${entrypoints[kind]}/stats?granularity=day`)).summary.count;
      assert.equal(after, stored, "the synthetic clicks stored nothing");
    });
  }

  test(`${engine}: a custom entrypoint renders its own questions through the same code`, async () => {
    const { page, context } = await open(path, "personalizzato");
    assert.equal(await page.textContent('[data-element="feedback-title"]'), "Come valuti lo sportello telematico?");
    await page.click('[data-element="feedback-rate-5"]');
    await page.getByText("Quanto hai atteso?").waitFor();
    await page.getByText("Il giusto").click();
    await page.getByText("Sì", { exact: true }).click();
    await page.getByRole("button", { name: "Avanti" }).click();
    await page.getByRole("button", { name: "Avanti" }).click();
    await page.getByRole("status").filter({ hasText: "Grazie" }).waitFor();
    await context.close();
    const stats = await waitForStats("personalizzato", (s) => s.answers.length === 2 ? s : null);
    assert.deepEqual(stats.answers.map((a) => a.option).sort(), ["q1o2", "q2o1"]);
  });

  test(`${engine}: a rating made with the keyboard alone reaches the store`, async () => {
    const kind = "valutazione_servizio";
    const COMMENT = "Mi sono perso al secondo passaggio";
    const commented = (stats) => stats.comments.filter((c) => c.comment === COMMENT).length;
    const earlier = await api(server.base, `/api/v1/entrypoints/${entrypoints[kind]}/stats?granularity=day`);
    const before = earlier.summary;
    const { page, context } = await open(path, kind);
    // Start from the last element before the widget and Tab into the star group.
    await page.locator("h2", { hasText: "Tempi e scadenze" }).evaluate((h) => { h.tabIndex = -1; h.focus(); });
    let onStar = false;
    for (let i = 0; i < 10 && !onStar; i++) {
      await page.keyboard.press("Tab");
      onStar = await page.evaluate(() => document.activeElement?.name?.endsWith("-rating") ?? false);
    }
    assert.ok(onStar, "Tab reaches the stars");
    assert.equal(await page.evaluate(() => document.activeElement.value), "1", "Tab lands on the first star");
    await page.keyboard.press("Space");
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("ArrowRight");
    const focused = await page.evaluate(() => ({ value: document.activeElement.value, checked: document.activeElement.checked }));
    assert.deepEqual(focused, { value: "3", checked: true }, "arrows move and check; focus stays on the stars");
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement.value), "unclear");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("Space");
    await page.keyboard.press("Tab"); // Indietro
    await page.keyboard.press("Tab"); // Avanti
    await page.keyboard.press("Enter");
    await page.keyboard.press("Shift+Tab");
    await page.keyboard.press("Shift+Tab");
    assert.equal(await page.evaluate(() => document.activeElement.dataset.element), "feedback-input-text");
    await page.keyboard.type(COMMENT);
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    await page.getByRole("status").filter({ hasText: "Grazie" }).waitFor();
    await context.close();
    // The widget sends each choice as a new version of one rating: wait for the last (the
    // other engine's run left the same comment, so the comment alone does not tell), in
    // the summary as in the comments (read by separate queries); a wrong one times out.
    const stats = await waitForStats(kind, (s) => s.summary.count === before.count + 1 &&
      commented(s) === commented(earlier) + 1 && s.summary.distribution[2] === before.distribution[2] + 1 ? s : null);
    assert.equal(stats.summary.distribution[2], before.distribution[2] + 1);
  });

  test(`${engine}: axe-core finds no WCAG 2.1 AA violation at any step`, async () => {
    for (const kind of ["pagina_web", "valutazione_servizio", "personalizzato"]) {
      const { page, context } = await open(path, kind, { bypassCSP: engine === "wasm" });
      if (engine === "js") {
        // Under the strict CSP axe cannot be injected as a script; evaluate its source.
        await page.evaluate(await import("node:fs").then((fs) => fs.readFileSync(AXE, "utf8")));
      } else {
        await page.addScriptTag({ path: AXE });
      }
      const steps = [
        async () => {},
        async () => page.click('[data-element="feedback-rate-2"]'),
        async () => page.click('[data-element="feedback-rate-5"]'),
        async () => page.getByRole("button", { name: "Avanti" }).click(),
        async () => page.getByRole("button", { name: "Avanti" }).click(),
      ];
      for (const [index, step] of steps.entries()) {
        await step();
        const result = await page.evaluate(() => window.axe.run('[data-element="feedback"]', {
          runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
        }));
        const violations = result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(" ")}`);
        assert.deepEqual(violations, [], `${kind}, step ${index}`);
      }
      await context.close();
    }
  });
}

async function waitForStats(kind, check) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const stats = await api(server.base, `/api/v1/entrypoints/${entrypoints[kind]}/stats?granularity=day`);
    const value = check(stats);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(stats.summary)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("ratings sent with sendBeacon when the page is hidden are stored", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.base}/demo?entrypoint=${entrypoints.scheda_servizio}`);
  await page.locator('[data-element="feedback"][data-satisfy-engine]').waitFor();
  await page.click('[data-element="feedback-rate-4"]');
  await page.getByText("Le indicazioni erano complete").click();
  // Leaving the page flushes the pending answer that was never submitted with "Avanti".
  await page.goto("about:blank");
  await context.close();
  await waitForStats("scheda_servizio", (s) => s.answers.some((a) => a.option === "complete") ? s : null);
});

test("the .wasm is downloaded only where the page's CSP lets it compile", async () => {
  for (const [path, expected] of [["/demo", true], ["/demo/strict-csp", false]]) {
    const context = await browser.newContext();
    const page = await context.newPage();
    let wasm = false;
    page.on("request", (r) => { if (r.url().endsWith(".wasm")) wasm = true; });
    await page.goto(`${server.base}${path}`);
    await page.locator('[data-element="feedback"][data-satisfy-engine]').waitFor();
    // The widget is in view on the demo page: the core follows its first render.
    await page.waitForTimeout(1000);
    assert.equal(wasm, expected, path);
    await context.close();
  }
});

test("the widget only talks to its own origin and is served compressed and cacheable", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const hosts = new Set();
  page.on("request", (r) => hosts.add(new URL(r.url()).origin));
  await page.goto(`${server.base}/demo`);
  await page.locator('[data-element="feedback"][data-satisfy-engine]').waitFor();
  assert.deepEqual([...hosts], [server.base]);
  await context.close();
  const loader = await fetch(`${server.base}/widget/v1/satisfy.js`, { headers: { "accept-encoding": "br" } });
  assert.equal(loader.headers.get("content-encoding"), "br");
  assert.match(loader.headers.get("cache-control"), /max-age=60\b/);
  const body = await (await fetch(`${server.base}/widget/v1/satisfy.js`)).text();
  const wasm = body.match(/satisfy-core\.[0-9a-f]{10}\.wasm/)[0];
  const module = await fetch(`${server.base}/widget/v1/${wasm}`, { headers: { "accept-encoding": "gzip" } });
  assert.match(module.headers.get("cache-control"), /immutable/);
  assert.equal(module.headers.get("content-type"), "application/wasm");
});
