// The feedback-component check of the AgID validator pa-website-validator-ng 1.1.38
// (checkFeedbackComponent), as it runs on a page already sized to 3840×2160: scroll to the
// bottom, document-wide first matches, textContent trimmed and lowercased (inner whitespace
// kept), each star clicked twice with the DOM's synthetic click() and the matching follow-up
// required visible at once. Returns { score, errors } in the validator's own words, plus
// `stricter`: what Satisfy checks beyond it (keyboard reach, follow-ups without answers).
async ({ waitMs }) => {
  const TITLE = "quanto sono chiare le informazioni su questa pagina?";
  const FOLLOW_UPS = {
    positiva: {
      question: "quali sono stati gli aspetti che hai preferito?",
      answers: ["le indicazioni erano chiare", "le indicazioni erano complete",
        "capivo sempre che stavo procedendo correttamente", "non ho avuto problemi tecnici", "altro"],
    },
    negativa: {
      question: "dove hai incontrato le maggiori difficoltà?",
      answers: ["a volte le indicazioni non erano chiare", "a volte le indicazioni non erano complete",
        "a volte non capivo se stavo procedendo correttamente", "ho avuto problemi tecnici", "altro"],
    },
  };
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const find = (element) => document.querySelector(`[data-element="${element}"]`);
  const text = (el) => (el?.textContent ?? "").trim().toLowerCase();
  for (let scrolled = 0; scrolled < document.body.scrollHeight; scrolled += 100) {
    window.scrollBy(0, 100);
    await sleep(5);
  }
  const errors = new Set();
  const stricter = new Set();
  let score = 1;
  const lower = (value, message) => {
    score = Math.min(score, value);
    if (message) errors.add(message);
  };
  const feedback = find("feedback");
  if (!feedback) return { score: 0, errors: ["Componente di valutazione non trovato"], stricter: [] };
  const title = feedback.querySelector('[data-element="feedback-title"]');
  if (!title) lower(0.5, "Domanda iniziale non trovata");
  else if (text(title) && text(title) !== TITLE) lower(0, "Domanda iniziale errata");
  if (!feedback.querySelector('[data-element="feedback-input-text"]')) lower(0.5, "Campo di testo libero mancante");
  const visible = (el) => {
    const style = getComputedStyle(el);
    const rect = el.getBoundingClientRect();
    return style.visibility !== "hidden" && rect.top > 0 && rect.bottom > 0 && rect.height > 0 && rect.width > 0;
  };
  // A star a keyboard can reach: itself focusable, or the label of an enabled control.
  const reachable = (star) => {
    const control = star.control ?? star.querySelector("input, button");
    if (control) return !control.disabled;
    return star.tabIndex >= 0;
  };
  for (let i = 1; i <= 5; i++) {
    const star = find(`feedback-rate-${i}`);
    if (!star) {
      lower(0.5, "Scala di valutazione non trovata");
      continue;
    }
    if (!reachable(star)) stricter.add(`La stella ${i} non si raggiunge da tastiera`);
    star.click();
    await sleep(waitMs);
    if (!find("feedback-rating-positive") || !find("feedback-rating-negative")) {
      lower(0.5);
      continue;
    }
    star.click();
    const positive = find("feedback-rating-positive");
    const negative = find("feedback-rating-negative");
    const [shown, hidden, kind] = i <= 3 ? [negative, positive, "negativa"] : [positive, negative, "positiva"];
    if (!visible(shown) || visible(hidden)) {
      lower(0, "Le domande di follow up non sono associate ai valori corretti");
      continue;
    }
    const expected = FOLLOW_UPS[kind];
    const question = shown.querySelector('[data-element="feedback-rating-question"]');
    if (!question) lower(0.5, `Domanda ${kind} di follow up non trovata`);
    else if (text(question) && text(question) !== expected.question) lower(0, `Domanda ${kind} di follow up errata`);
    const answers = [...shown.querySelectorAll('[data-element="feedback-rating-answer"]')].map(text);
    if (!answers.every((answer) => expected.answers.includes(answer))) {
      lower(0, `Le risposte alla domanda ${kind} di follow up sono errate o mancanti`);
    }
    if (answers.length === 0) stricter.add(`La domanda ${kind} di follow up non offre risposte`);
  }
  return { score, errors: [...errors], stricter: [...stricter] };
}
