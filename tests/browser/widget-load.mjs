// Benchmark (not a test) of the widget's loading in Chromium, on the Modello Comuni fixture
// site (tests/browser/fixtures/site.mjs), for issue 13's goal 6:
//  - cumulative layout shift from navigation until the widget is live and 1.5 s more;
//  - under Chromium's "Slow 3G" network and 4x CPU throttling, with the snippet at the end
//    of <body> or in <head>: the time from the loader starting to run, and from the page's
//    first paint, to the stars being operable (in the DOM with their handlers, and painted),
//    from a real click on a star to the star selected, and the layout shift until then.
// Prints one JSON object; tests/bench/widget_load.sh writes it to docs/BENCHMARKS.md.
// Usage: bash tests/bench/widget_load.sh
import { startSatisfy, launchBrowser, createEntrypoint, api } from "./harness.mjs";
import { startSite } from "./fixtures/site.mjs";

// Chromium DevTools' "Slow 3G" preset (what its network panel applies).
const SLOW_3G = { offline: false, latency: 2000, downloadThroughput: (500 * 1024) / 8 * 0.8, uploadThroughput: (500 * 1024) / 8 * 0.8 };
const CPU_SLOWDOWN = 4;

// Every layout shift not caused by input, recorded by the page itself from its first script
// on.
const OBSERVE_SHIFTS = () => {
  window.__shifts = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (!entry.hadRecentInput) {
        window.__shifts.push({
          value: entry.value,
          sources: entry.sources.map((s) => (s.node && s.node.nodeName) + (s.node && s.node.className ? "." + s.node.className : "")),
        });
      }
    }
  }).observe({ type: "layout-shift", buffered: true });
};

async function layoutShift(browser, site, query, width) {
  const context = await browser.newContext({ viewport: { width, height: 900 }, locale: "it-IT" });
  const page = await context.newPage();
  await page.addInitScript(OBSERVE_SHIFTS);
  await page.goto(site.url(query));
  await page.locator('[data-element="feedback"][data-satisfy-engine]').waitFor({ timeout: 15_000 });
  await page.waitForTimeout(1500);
  const shifts = await page.evaluate(() => window.__shifts);
  await context.close();
  return { cls: total(shifts), shifts };
}

const total = (shifts) => Number(shifts.reduce((sum, s) => sum + s.value, 0).toFixed(4));

// The moments that make the stars operable, recorded by the page itself (performance.now()
// time): the loader's code starting to run (its first read of document.currentScript, after
// the script was compiled), the page's first paint, the stars in the DOM with their handlers,
// the frame that paints them (a task queued from the callback before that frame runs after
// it), a person's click on one and the star marked selected.
const TIMELINE = () => {
  const marks = (window.__marks = {});
  const currentScript = Object.getOwnPropertyDescriptor(Document.prototype, "currentScript");
  Object.defineProperty(Document.prototype, "currentScript", {
    configurable: true,
    get() {
      const script = currentScript.get.call(this);
      if (marks.loader === undefined && script && /\/widget\/v1\/[^/]*\.js/.test(script.src)) marks.loader = performance.now();
      return script;
    },
  });
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) marks[entry.name] = entry.startTime;
  }).observe({ type: "paint", buffered: true });
  new MutationObserver(() => {
    const now = performance.now();
    if (marks.rendered === undefined && document.querySelector('[data-element="feedback"][data-satisfy-engine] [data-element="feedback-rate-4"]')) {
      marks.rendered = now;
      requestAnimationFrame(() => setTimeout(() => { marks.painted = performance.now(); }, 0));
    }
    if (marks.selected === undefined && document.querySelector('[data-element="feedback"] .satisfy-on')) marks.selected = now;
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["class"] });
  addEventListener("click", (event) => {
    if (event.isTrusted && marks.click === undefined) marks.click = event.timeStamp;
  }, true);
};

async function operableUnderThrottling(browser, site, query, width) {
  const context = await browser.newContext({ viewport: { width, height: 900 }, locale: "it-IT" });
  const page = await context.newPage();
  await page.addInitScript(TIMELINE);
  await page.addInitScript(OBSERVE_SHIFTS);
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", SLOW_3G);
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: CPU_SLOWDOWN });
  await page.goto(site.url(query), { waitUntil: "commit", timeout: 120_000 });
  const star = page.locator('[data-element="feedback"][data-satisfy-engine] [data-element="feedback-rate-4"]');
  await star.waitFor({ state: "visible", timeout: 120_000 });
  // Operable: a real click selects the star (the widget marks it and shows the next step).
  await star.click();
  await page.locator('[data-element="feedback"] .satisfy-on').first().waitFor({ timeout: 120_000 });
  const t = await page.evaluate(() => {
    const arrived = (pattern) => (performance.getEntriesByType("resource").find((e) => pattern.test(e.name)) || {}).responseEnd;
    return { ...window.__marks, arrived: arrived(/\/widget\/v1\/[^/]*\.js/), config: arrived(/\/widget-config/), shifts: window.__shifts };
  });
  await context.close();
  const ms = (value) => (value === undefined ? null : Math.round(value));
  // The stars are operable once they are in the DOM with their handlers and on screen; not
  // before the page's first paint, which a loader that ran earlier waits for.
  return {
    width,
    loader_arrived_ms: ms(t.arrived),
    loader_ran_ms: ms(t.loader),
    first_paint_ms: ms(t["first-paint"]),
    config_arrived_ms: ms(t.config),
    operable_ms: ms(t.painted),
    operable_after_loader_ms: ms(t.painted - t.loader),
    operable_after_first_paint_ms: Math.max(0, ms(t.painted - t["first-paint"])),
    click_to_selected_ms: ms(t.selected - t.click),
    // Shifts a click caused are left out (hadRecentInput).
    layout_shift: total(t.shifts),
  };
}

const server = await startSatisfy();
const site = await startSite(server.base);
const browser = await launchBrowser();
try {
  const results = { layout_shift: [], throttled: [] };
  for (const [label, query] of [
    ["Bootstrap Italia, template's component replaced", { snippet: "body" }],
    ["Bootstrap Italia, band before the contacts", { snippet: "body", static: 0 }],
    ["Bootstrap Italia, band before the contacts, a long page", { snippet: "body", static: 0, long: 1 }],
    ["Bootstrap Italia, mount target", { snippet: "body", target: 1 }],
    ["plain site, end of `<main>`, snippet in `<head>` of a page sent slowly", { snippet: "head", static: 0, look: "plain" }],
  ]) {
    for (const width of [1280, 375]) {
      const ep = await createEntrypoint(server.base, { name: `${label} ${width}`, kind: "pagina_web", allowed_origins: [site.origin] });
      results.layout_shift.push({ page: label, width, ...(await layoutShift(browser, site, { ep, ...query }, width)) });
    }
  }
  // The console's snippet at the end of <body> (after the template's scripts) and in
  // <head>, on a page with the template's component and on one without (the band); a site
  // with two entrypoints, whose pages load the shared loader (an earlier snippet) with
  // their surveys inside, as such a site does; then a site with more entrypoints than it
  // carries surveys for (32), whose loader asks for the widget-config; then a page in
  // German with the console's snippet for pages in several languages at the top of <head>.
  const inHead = { snippet: "pasted-head", pasted: "snippet" };
  for (const [count, runs] of [
    [2, [
      ["the entrypoint's (the console's snippet) at the end of `<body>`", {}],
      ["the same in `<head>`", inHead],
      ["the same at the end of `<body>`, no template component (a band)", { static: 0, width: 1280 }],
      ["the same in `<head>`, no template component (a band)", { ...inHead, static: 0, width: 1280 }],
      ["the shared `satisfy.js`, a site of two entrypoints", { loader: "shared" }],
    ]],
    [33, [["the shared `satisfy.js`, a site of 33 entrypoints", { loader: "shared" }]]],
    [1, [["the entrypoint's in the page's language (snippet for several languages) at the top of `<head>`, a German page", { snippet: "pasted-top", pasted: "snippet_multilingual", lang: "de" }]]],
  ]) {
    const own = await startSite(server.base);
    try {
      for (let n = runs.length; n < count; n++) {
        await createEntrypoint(server.base, { name: `site of ${count}, ${n}`, kind: "pagina_web", allowed_origins: [own.origin] });
      }
      for (const [label, run] of runs) {
        const ep = await createEntrypoint(server.base, { name: `throttled ${label}`, kind: "pagina_web", allowed_origins: [own.origin] });
        const { width = 375, pasted, ...query } = { snippet: "body", ...run };
        // `pasted` names the snippet the console gives for this entrypoint (an API field).
        if (pasted) query.pasted = (await api(server.base, `/api/v1/entrypoints/${ep}`))[pasted];
        results.throttled.push({ loader: label, ...(await operableUnderThrottling(browser, own, { ep, ...query }, width)) });
      }
    } finally {
      await own.stop();
    }
  }
  console.log(JSON.stringify(results, null, 1));
} finally {
  await browser.close();
  await site.stop();
  await server.stop();
}
