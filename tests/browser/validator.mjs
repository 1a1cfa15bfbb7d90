// The feedback-component check of the AgID validator (pa-website-validator-ng 1.1.38,
// checkFeedbackComponent), as it runs on a page: 3840×2160 viewport, scroll to the bottom,
// document-wide first matches, textContent trimmed and lowercased, each star clicked twice
// with the DOM's synthetic click() and the matching follow-up required visible.
// Returns { score, errors } with the validator's own Italian messages; the page keeps the
// state the clicks left, as it does after a real audit.

const TITLES = ["quanto sono chiare le informazioni su questa pagina?", "quanto è stato facile usare questo servizio?"];
const POSITIVE = {
  question: "quali sono stati gli aspetti che hai preferito?",
  answers: ["le indicazioni erano chiare", "le indicazioni erano complete",
    "capivo sempre che stavo procedendo correttamente", "non ho avuto problemi tecnici", "altro"],
};
const NEGATIVE = {
  question: "dove hai incontrato le maggiori difficoltà?",
  answers: ["a volte le indicazioni non erano chiare", "a volte le indicazioni non erano complete",
    "a volte non capivo se stavo procedendo correttamente", "ho avuto problemi tecnici", "altro"],
};

/// Runs the check on `page` (Playwright); `waitMs` stands for the validator's wait for
/// network idle after each first click.
export async function validatorCheck(page, { waitMs = 300 } = {}) {
  const viewport = page.viewportSize();
  await page.setViewportSize({ width: 3840, height: 2160 });
  await page.evaluate(async () => {
    // scrollToBottom: 100 px every 50 ms until the distance reaches body.scrollHeight.
    for (let scrolled = 0; scrolled < document.body.scrollHeight; scrolled += 100) {
      window.scrollBy(0, 100);
      await new Promise((r) => setTimeout(r, 5));
    }
  });
  const result = await page.evaluate(async ({ titles, positive, negative, waitMs }) => {
    const text = (el) => (el?.textContent ?? "").trim().toLowerCase();
    const errors = new Set();
    let score = 1;
    const lower = (value, message) => { score = Math.min(score, value); if (message) errors.add(message); };
    const feedback = document.querySelector('[data-element="feedback"]');
    if (!feedback) return { score: 0, errors: ["Componente di valutazione non trovato"] };
    const title = feedback.querySelector('[data-element="feedback-title"]');
    if (!title) lower(0.5, "Domanda iniziale non trovata");
    else if (text(title) && !titles.includes(text(title))) lower(0, "Domanda iniziale errata");
    if (!feedback.querySelector('[data-element="feedback-input-text"]')) lower(0.5, "Campo di testo libero mancante");
    const visible = (el) => {
      const style = getComputedStyle(el);
      const rect = el.getBoundingClientRect();
      return style.visibility !== "hidden" && rect.top > 0 && rect.bottom > 0 && rect.height > 0 && rect.width > 0;
    };
    for (let i = 1; i <= 5; i++) {
      const star = document.querySelector(`[data-element="feedback-rate-${i}"]`);
      if (!star) { lower(0.5, "Scala di valutazione non trovata"); continue; }
      star.click();
      await new Promise((r) => setTimeout(r, waitMs));
      if (!document.querySelector('[data-element="feedback-rating-positive"]') ||
          !document.querySelector('[data-element="feedback-rating-negative"]')) { lower(0.5); continue; }
      star.click();
      const pos = document.querySelector('[data-element="feedback-rating-positive"]');
      const neg = document.querySelector('[data-element="feedback-rating-negative"]');
      const [shown, hidden, expected, kind] = i <= 3 ? [neg, pos, negative, "negativa"] : [pos, neg, positive, "positiva"];
      if (!visible(shown) || visible(hidden)) {
        lower(0, "Le domande di follow up non sono associate ai valori corretti");
        continue;
      }
      const question = shown.querySelector('[data-element="feedback-rating-question"]');
      if (!question) lower(0.5, `Domanda ${kind} di follow up non trovata`);
      else if (text(question) && text(question) !== expected.question) lower(0, `Domanda ${kind} di follow up errata`);
      const answers = [...shown.querySelectorAll('[data-element="feedback-rating-answer"]')].map(text);
      if (!answers.every((a) => expected.answers.includes(a))) {
        lower(0, `Le risposte alla domanda ${kind} di follow up sono errate o mancanti`);
      }
    }
    return { score, errors: [...errors] };
  }, { titles: TITLES, positive: POSITIVE, negative: NEGATIVE, waitMs });
  await page.setViewportSize(viewport);
  return result;
}
