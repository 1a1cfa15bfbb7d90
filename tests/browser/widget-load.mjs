// Benchmark (not a test) of the widget's loading in Chromium, on the Modello Comuni fixture
// site (tests/browser/fixtures/site.mjs), for issue 13's goal 6:
//  - cumulative layout shift from navigation until the widget is live and 1.5 s more;
//  - under Chromium's "Slow 3G" network and 4x CPU throttling, the time from the loader
//    starting to run to the stars being operable (a real click on a star selects it).
// Prints one JSON object; tests/bench/widget_load.sh writes it to docs/BENCHMARKS.md.
// Usage: bash tests/bench/widget_load.sh
import { startSatisfy, launchBrowser, createEntrypoint } from "./harness.mjs";
import { startSite } from "./fixtures/site.mjs";

// Chromium DevTools' "Slow 3G" preset (what its network panel applies).
const SLOW_3G = { offline: false, latency: 2000, downloadThroughput: (500 * 1024) / 8 * 0.8, uploadThroughput: (500 * 1024) / 8 * 0.8 };
const CPU_SLOWDOWN = 4;

// Every layout shift not caused by input, and when the loader began to run, recorded by the
// page itself from its first script on.
const OBSERVE = () => {
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
  // The loader's own <script> element: when its code starts, the resource entry has ended.
  window.__loaderStart = () => {
    const entry = performance.getEntriesByType("resource").find((e) => /\/widget\/v1\/[^/]*\.js/.test(e.name));
    return entry ? entry.responseEnd : null;
  };
};

async function layoutShift(browser, site, query, width) {
  const context = await browser.newContext({ viewport: { width, height: 900 }, locale: "it-IT" });
  const page = await context.newPage();
  await page.addInitScript(OBSERVE);
  await page.goto(site.url(query));
  await page.locator('[data-element="feedback"][data-satisfy-engine]').waitFor({ timeout: 15_000 });
  await page.waitForTimeout(1500);
  const shifts = await page.evaluate(() => window.__shifts);
  await context.close();
  return { cls: Number(shifts.reduce((sum, s) => sum + s.value, 0).toFixed(4)), shifts };
}

async function operableUnderThrottling(browser, site, query) {
  const context = await browser.newContext({ viewport: { width: 375, height: 900 }, locale: "it-IT" });
  const page = await context.newPage();
  await page.addInitScript(OBSERVE);
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
  const times = await page.evaluate(() => ({
    loader: window.__loaderStart(),
    operable: performance.now(),
    config: (performance.getEntriesByType("resource").find((e) => e.name.includes("/widget-config")) || {}).responseEnd,
  }));
  await context.close();
  return {
    loader_ran_ms: Math.round(times.loader),
    config_arrived_ms: times.config === undefined ? null : Math.round(times.config),
    operable_ms: Math.round(times.operable),
    operable_after_loader_ms: Math.round(times.operable - times.loader),
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
    ["Bootstrap Italia, mount target", { snippet: "body", target: 1 }],
    ["plain site, end of `<main>`", { snippet: "head", static: 0, look: "plain" }],
  ]) {
    for (const width of [1280, 375]) {
      const ep = await createEntrypoint(server.base, { name: `${label} ${width}`, kind: "pagina_web", allowed_origins: [site.origin] });
      results.layout_shift.push({ page: label, width, ...(await layoutShift(browser, site, { ep, ...query }, width)) });
    }
  }
  for (const [label, loader] of [["the entrypoint's (the console's snippet)", {}], ["the shared `satisfy.js`", { loader: "shared" }]]) {
    const ep = await createEntrypoint(server.base, { name: `throttled ${label}`, kind: "pagina_web", allowed_origins: [site.origin] });
    results.throttled.push({ loader: label, ...(await operableUnderThrottling(browser, site, { ep, snippet: "body", ...loader })) });
  }
  console.log(JSON.stringify(results, null, 1));
} finally {
  await browser.close();
  await site.stop();
  await server.stop();
}
