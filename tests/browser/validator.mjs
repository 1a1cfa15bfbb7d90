// The AgID validator's feedback-component check (pa-website-validator-ng 1.1.38,
// checkFeedbackComponent) as `satisfy compliance` runs it: the browser suite loads the
// product's own script (compliance/src/check.js), so both check pages the same way.
// Returns { score, errors } with the validator's Italian messages; the page keeps the state
// the clicks left, as it does after a real audit.

import { readFileSync } from "node:fs";

const CHECK = readFileSync(new URL("../../compliance/src/check.js", import.meta.url), "utf8");

/// Runs the check on `page` (Playwright); `waitMs` stands for the validator's wait for
/// network idle after each first click.
export async function validatorCheck(page, { waitMs = 300 } = {}) {
  const viewport = page.viewportSize();
  await page.setViewportSize({ width: 3840, height: 2160 });
  const { score, errors } = await page.evaluate(`(${CHECK})(${JSON.stringify({ waitMs })})`);
  await page.setViewportSize(viewport);
  return { score, errors };
}
