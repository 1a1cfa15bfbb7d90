// The widget where it will actually live: pages built like the Modello Comuni templates, on
// their own origin, with Bootstrap Italia's real CSS and JS, a comune theme (green primary,
// the template's `appearance: none !important` reset) and the template's static rating
// component, the snippet placed every way a webmaster places it, at 1280 and 375 px.
// In each: exactly one component, below the H1, not edge to edge; the AgID validator's
// check scores 1 and its synthetic clicks store nothing; a real click stores a rating;
// choosing an answer visibly changes it; buttons in the theme's primary colour; axe clean.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { startSatisfy, launchBrowser, api, createEntrypoint } from "../harness.mjs";
import { startSite, THEME_PRIMARY } from "../fixtures/site.mjs";
import { validatorCheck } from "../validator.mjs";

const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");
const OWN_PRIMARY = "rgb(0, 102, 204)";

let server;
let site;
let browser;
before(async () => {
  server = await startSatisfy();
  site = await startSite(server.base);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await site?.stop();
  await server?.stop();
});

function newEntrypoint(name) {
  return createEntrypoint(server.base, { name, kind: "pagina_web", allowed_origins: [site.origin] });
}

async function summary(ep) {
  return (await api(server.base, `/api/v1/entrypoints/${ep}/stats?granularity=day`)).summary;
}

async function waitForCount(ep, count) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const s = await summary(ep);
    if (s.count === count) return s;
    if (Date.now() > deadline) throw new Error(`expected ${count} ratings, store has ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function openPage(query, width) {
  const context = await browser.newContext({ viewport: { width, height: 900 }, locale: "it-IT" });
  const page = await context.newPage();
  const problems = { errors: [], warnings: [] };
  page.on("pageerror", (e) => problems.errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "warning" && m.text().startsWith("Satisfy")) problems.warnings.push(m.text()); });
  await page.goto(site.url(query));
  return { page, context, problems };
}

// Where the component is and what surrounds it, in document coordinates.
async function layout(page) {
  return page.evaluate(() => {
    const all = document.querySelectorAll('[data-element="feedback"]');
    const widget = all[0];
    const rect = widget.getBoundingClientRect();
    const h1 = document.querySelector("h1").getBoundingClientRect();
    const contacts = document.querySelector(".bg-grey-card");
    return {
      components: all.length,
      live: widget.hasAttribute("data-satisfy-engine"),
      belowH1: rect.top >= h1.bottom,
      left: rect.left,
      right: window.innerWidth - rect.right,
      inTarget: !!widget.closest("[data-satisfy-entrypoint]"),
      inTemplateSpot: !!widget.closest("#rating"),
      beforeContacts: contacts ? !!(widget.compareDocumentPosition(contacts) & Node.DOCUMENT_POSITION_FOLLOWING) : null,
      inMain: !!widget.closest("main"),
    };
  });
}

const SCENARIOS = [];
for (const snippet of ["body", "head", "gtm-create", "gtm-innerhtml"]) {
  for (const target of [false, true]) {
    for (const width of [1280, 375]) SCENARIOS.push({ snippet, target, width, look: "bi", withStatic: true });
  }
}
for (const width of [1280, 375]) {
  SCENARIOS.push({ snippet: "body", target: false, width, look: "bi", withStatic: false });
  SCENARIOS.push({ snippet: "head", target: false, width, look: "bi", withStatic: false });
  SCENARIOS.push({ snippet: "head", target: false, width, look: "plain", withStatic: false });
}
// Snippets pasted before entrypoints had their own loader: the shared one.
for (const snippet of ["body", "gtm-create"]) {
  SCENARIOS.push({ snippet, target: false, width: 1280, look: "bi", withStatic: true, loader: "shared" });
}

for (const s of SCENARIOS) {
  const name = `${s.look === "bi" ? "Bootstrap Italia" : "plain site with resets"}, snippet ${s.snippet}` +
    `${s.loader ? ` (${s.loader} loader)` : ""}${s.target ? ", mount target" : ""}` +
    `${s.withStatic ? ", static component" : ""}, ${s.width} px`;
  test(name, async () => {
    const ep = await newEntrypoint(name);
    const { page, context, problems } = await openPage({
      ep, snippet: s.snippet, ...(s.target ? { target: 1 } : {}), ...(s.withStatic ? {} : { static: 0 }),
      ...(s.look === "plain" ? { look: "plain" } : {}), ...(s.loader ? { loader: s.loader } : {}),
    }, s.width);
    await page.locator('[data-element="feedback"][data-satisfy-engine="wasm"]').waitFor({ timeout: 15_000 });

    const where = await layout(page);
    assert.equal(where.components, 1, "exactly one component");
    assert.ok(where.live, "the component is the live widget");
    assert.ok(where.belowH1, "below the H1");
    assert.ok(where.left >= 8 && where.right >= 8, `inside the page's gutters (${where.left} / ${where.right} px)`);
    if (s.target) assert.ok(where.inTarget, "in the mount target");
    else if (s.withStatic) assert.ok(where.inTemplateSpot, "where the template's component was");
    else if (s.look === "bi") assert.ok(where.beforeContacts && where.inMain, "in a band before the contacts");
    else assert.ok(where.inMain, "at the end of <main>");

    // The auditors' check passes, and its synthetic clicks are not ratings.
    assert.deepEqual(await validatorCheck(page), { score: 1, errors: [] });
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await summary(ep)).count, 0, "the validator's clicks stored nothing");

    // A citizen's click is a rating.
    await page.click('[data-element="feedback-rate-2"]');
    const negative = page.locator('[data-element="feedback-rating-negative"]');
    await negative.waitFor({ state: "visible" });
    const stored = await waitForCount(ep, 1);
    assert.deepEqual(stored.distribution, [0, 1, 0, 0, 0]);

    // Choosing an answer visibly changes it (focus and hover moved away on both shots).
    const row = negative.locator(".satisfy-option").nth(1);
    const calm = async () => {
      await page.mouse.move(0, 0);
      await page.evaluate(() => document.activeElement?.blur());
    };
    await calm();
    const unchosen = await row.screenshot();
    await row.locator("label").click();
    await calm();
    const chosen = await row.screenshot();
    assert.ok(!unchosen.equals(chosen), "the chosen answer looks different");
    assert.equal(await row.locator("input").isChecked(), true);

    // Buttons in the theme's primary colour (the page's own .btn-primary), or the widget's own.
    const colours = await page.evaluate(() => ({
      next: getComputedStyle(document.querySelector('[data-element="feedback"] .satisfy-next')).backgroundColor,
      reference: document.getElementById("reference-primary") &&
        getComputedStyle(document.getElementById("reference-primary")).backgroundColor,
      title: getComputedStyle(document.querySelector('[data-element="feedback-title"]')).fontSize,
      question: getComputedStyle(document.querySelector('[data-element="feedback-rating-negative"] legend')).fontSize,
    }));
    if (s.look === "bi") {
      assert.equal(colours.next, colours.reference);
      assert.equal(colours.next, THEME_PRIMARY);
    } else {
      assert.equal(colours.next, OWN_PRIMARY);
    }
    // The official sizes, whatever the host's legend rules.
    assert.equal(colours.title, "24px");
    assert.equal(colours.question, "18px");

    await page.addScriptTag({ path: AXE });
    const axe = await page.evaluate(() => window.axe.run('[data-element="feedback"]', {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    }));
    assert.deepEqual(axe.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(" ")}`), []);

    // The answer reaches the store with the rest.
    await page.getByRole("button", { name: "Avanti" }).click();
    await page.getByRole("button", { name: "Avanti" }).click();
    await page.getByRole("status").filter({ hasText: "Grazie" }).waitFor();
    const deadline = Date.now() + 10_000;
    for (;;) {
      const stats = await api(server.base, `/api/v1/entrypoints/${ep}/stats?granularity=day`);
      if (stats.answers.some((a) => a.option === "incomplete")) {
        assert.equal(stats.summary.count, 1);
        break;
      }
      if (Date.now() > deadline) throw new Error(`answer not stored: ${JSON.stringify(stats.answers)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(problems, { errors: [], warnings: [] });
    assert.deepEqual(await context.cookies(), []);
    await context.close();
  });
}

test("the WebAssembly core is fetched only as the widget nears the viewport, and a rating waits for it", async () => {
  const ep = await newEntrypoint("core on approach");
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "it-IT" });
  const page = await context.newPage();
  const events = [];
  page.on("request", (r) => {
    if (r.url().endsWith(".wasm")) events.push("core requested");
    if (r.url().endsWith("/v1/ratings")) events.push("rating sent");
  });
  page.on("requestfinished", (r) => { if (r.url().endsWith(".wasm")) events.push("core loaded"); });
  // A slow network for the core alone, so that a citizen can rate before it arrives.
  await page.route("**/*.wasm", async (route) => {
    await new Promise((r) => setTimeout(r, 1500));
    await route.continue();
  });
  await page.goto(site.url({ ep, snippet: "body", static: 0, long: 1 }));
  const widget = page.locator('[data-element="feedback"][data-satisfy-engine="wasm"]');
  await widget.waitFor();
  const below = await widget.evaluate((w) => w.getBoundingClientRect().top - window.innerHeight);
  assert.ok(below > 400, `the widget starts ${below} px below the viewport, beyond the 400 px margin`);
  await page.waitForTimeout(1000);
  assert.deepEqual(events, [], "nothing fetched for the core while the widget is far from view");

  // Clicking scrolls the widget into view: the core is requested and the rating waits for it.
  await page.click('[data-element="feedback-rate-4"]');
  assert.deepEqual((await waitForCount(ep, 1)).distribution, [0, 0, 0, 1, 0]);
  assert.deepEqual(events, ["core requested", "core loaded", "rating sent"]);
  assert.equal(await page.getAttribute('[data-element="feedback"]', "data-satisfy-engine"), "wasm");
  await context.close();
});

test("two static components and no mount target: the widget says why in the console and leaves them", async () => {
  const ep = await newEntrypoint("two static components");
  const { page, context, problems } = await openPage({ ep, snippet: "body", static: 2 }, 1280);
  await waitForWarning(page, problems);
  assert.match(problems.warnings.join(" "), /2 feedback components/);
  assert.equal(await page.locator('[data-element="feedback"]').count(), 2);
  assert.equal(await page.locator(".satisfy-feedback").count(), 0);
  await context.close();
});

async function waitForWarning(page, problems) {
  const deadline = Date.now() + 10_000;
  while (!problems.warnings.length && Date.now() < deadline) await page.waitForTimeout(100);
}

test("an unknown entrypoint leaves the template's component in place and says why", async () => {
  const { page, context, problems } = await openPage({ ep: "ep_AAAAAAAAAAAAAAAA", snippet: "body" }, 1280);
  await waitForWarning(page, problems);
  assert.match(problems.warnings.join(" "), /widget-config 404/);
  assert.equal(await page.locator('[data-element="feedback"]').count(), 1);
  assert.equal(await page.locator(".satisfy-feedback").count(), 0);
  await context.close();
});

test("the entrypoint's loader renders the stars with no request before them, in the page's language", async () => {
  const ep = await newEntrypoint("languages");
  for (const [lang, title, configRequests] of [
    ["it", "Quanto sono chiare le informazioni su questa pagina?", 0],
    // Its configuration is Italian: an English page asks for its own.
    ["en", "How clear is the information on this page?", 1],
  ]) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const requests = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(site.url({ ep, snippet: "body", lang }));
    const widget = page.locator('[data-element="feedback"][data-satisfy-engine]');
    await widget.waitFor();
    assert.equal(await widget.locator('[data-element="feedback-title"]').textContent(), title);
    assert.equal(requests.filter((u) => u.includes("/widget-config")).length, configRequests, requests.join("\n"));
    // The styles came with the loader: no style sheet was requested, and they apply.
    assert.equal(requests.filter((u) => u.endsWith(".css") && u.startsWith(server.base)).length, 0);
    assert.equal(await widget.locator(".satisfy-star path").first().evaluate((path) => getComputedStyle(path).fill), "rgb(125, 151, 176)");
    await context.close();
  }
});

test("an earlier snippet's shared loader carries its site's surveys: no request before the stars", async () => {
  // A site of its own, so that it has only these entrypoints: one for pages, one for services.
  const own = await startSite(server.base);
  try {
    const pages = await createEntrypoint(server.base, { name: "site pages", kind: "pagina_web", allowed_origins: [own.origin] });
    const services = await createEntrypoint(server.base, { name: "site services", kind: "valutazione_servizio", allowed_origins: [own.origin] });
    // The snippet in the template, and created by a tag manager's script.
    for (const [ep, title, snippet] of [
      [pages, "Quanto sono chiare le informazioni su questa pagina?", "body"],
      [services, "Quanto è stato facile usare questo servizio?", "gtm-create"],
    ]) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      const requests = [];
      page.on("request", (r) => requests.push(r.url()));
      await page.goto(own.url({ ep, snippet, loader: "shared" }));
      const widget = page.locator('[data-element="feedback"][data-satisfy-engine]');
      await widget.waitFor();
      assert.ok(requests.some((u) => u.endsWith("/widget/v1/satisfy.js")), requests.join("\n"));
      assert.equal(await widget.locator('[data-element="feedback-title"]').textContent(), title);
      assert.equal(requests.filter((u) => u.includes("/widget-config")).length, 0, requests.join("\n"));
      await page.click('[data-element="feedback-rate-4"]');
      assert.deepEqual((await waitForCount(ep, 1)).distribution, [0, 0, 0, 1, 0]);
      await context.close();
    }
  } finally {
    await own.stop();
  }
});

test("the console's snippet for pages in several languages renders each page's texts with no request before the stars", async () => {
  const ep = await newEntrypoint("several languages");
  const { snippet_multilingual: pasted } = await api(server.base, `/api/v1/entrypoints/${ep}`);
  let stored = 0;
  // At the top of a template's <head>, as the console says, at its end, or where Tag
  // Manager puts it.
  for (const [lang, title, snippet] of [
    ["de-AT", "Wie verständlich sind die Informationen auf dieser Seite?", "pasted-top"],
    ["en", "How clear is the information on this page?", "pasted"],
    ["it", "Quanto sono chiare le informazioni su questa pagina?", "pasted-head"],
    // A language the widget does not speak: Italian, as the widget itself falls back.
    ["fr", "Quanto sono chiare le informazioni su questa pagina?", "pasted"],
  ]) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const requests = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(site.url({ ep, snippet, pasted, lang }));
    const widget = page.locator('[data-element="feedback"][data-satisfy-engine]');
    await widget.waitFor();
    assert.equal(await widget.locator('[data-element="feedback-title"]').textContent(), title);
    assert.equal(requests.filter((u) => u.includes("/widget-config")).length, 0, requests.join("\n"));
    assert.ok(requests.includes(`${server.base}/widget/v1/${ep}.js?lang=${lang}`), requests.join("\n"));
    await page.click('[data-element="feedback-rate-4"]');
    stored += 1;
    assert.equal((await waitForCount(ep, stored)).count, stored);
    await context.close();
  }
});

test("a snippet whose data-entrypoint was changed but not its src shows and stores that entrypoint's survey", async () => {
  // A webmaster copies the page survey's snippet for a service and changes only the id.
  const copied = await newEntrypoint("copied snippet");
  const service = await createEntrypoint(server.base, { name: "service", kind: "valutazione_servizio", allowed_origins: [site.origin] });
  const pasted = `<script async src="${server.base}/widget/v1/${copied}.js" data-entrypoint="${service}"></script>`;
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(site.url({ ep: service, snippet: "pasted", pasted }));
  const widget = page.locator('[data-element="feedback"][data-satisfy-engine]');
  await widget.waitFor();
  // The loader's survey is another entrypoint's: the widget asks for its own.
  assert.equal(await widget.locator('[data-element="feedback-title"]').textContent(), "Quanto è stato facile usare questo servizio?");
  assert.ok(requests.includes(`${server.base}/v1/entrypoints/${service}/widget-config?lang=it`), requests.join("\n"));
  await page.click('[data-element="feedback-rate-4"]');
  assert.deepEqual((await waitForCount(service, 1)).distribution, [0, 0, 0, 1, 0]);
  assert.equal((await summary(copied)).count, 0);
  await context.close();
});

test("a citizen's click on the star a checker left selected is still a rating", async () => {
  const ep = await newEntrypoint("same star");
  const { page, context } = await openPage({ ep, snippet: "body" }, 1280);
  await page.locator('[data-element="feedback"][data-satisfy-engine]').waitFor();
  assert.deepEqual(await validatorCheck(page), { score: 1, errors: [] });
  // The validator's last clicks selected 5 stars; the citizen picks 5 stars too.
  assert.equal(await page.locator('[data-element="feedback"] input[value="5"]').isChecked(), true);
  await page.click('[data-element="feedback-rate-5"]');
  const stored = await waitForCount(ep, 1);
  assert.deepEqual(stored.distribution, [0, 0, 0, 0, 1]);
  await context.close();
});

test("the snippet pasted twice mounts once and says so", async () => {
  const ep = await newEntrypoint("twice");
  const { page, context, problems } = await openPage({ ep, snippet: "body" }, 1280);
  await page.locator('[data-element="feedback"][data-satisfy-engine]').waitFor();
  await page.evaluate(({ src, ep }) => new Promise((resolve) => {
    const s = document.createElement("script");
    s.src = src;
    s.setAttribute("data-entrypoint", ep);
    s.onload = resolve;
    document.body.appendChild(s);
  }), { src: `${server.base}/widget/v1/satisfy.js`, ep });
  await waitForWarning(page, problems);
  assert.match(problems.warnings.join(" "), /already on this page/);
  assert.equal(await page.locator('[data-element="feedback"]').count(), 1);
  await context.close();
});
