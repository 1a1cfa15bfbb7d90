/*! Satisfy widget: the official Modello Comuni feedback component. */
// Renders in the host page's light DOM (the AgID validator uses document.querySelector),
// sets no cookies and talks only to the origin it was loaded from. Texts and option ids
// come from the entrypoint's widget-config; ratings are validated and encoded by the
// WebAssembly core compiled from satisfy-core, or by the plain-JS fallback below when the
// page's Content-Security-Policy or the browser does not allow WebAssembly.
// widget/build.sh bundles this file with the wasm-bindgen glue into dist/satisfy.js and
// defines SATISFY_VERSION, SATISFY_WASM and SATISFY_CSS (the versioned file names).
import initWasm, { encode_rating as wasmEncodeRating } from "satisfy-wasm-glue";

(function () {
  "use strict";
  var VERSION = SATISFY_VERSION;
  var script = document.currentScript || document.querySelector("script[data-entrypoint]");
  if (!script || !script.src) return;
  var entrypoint = script.getAttribute("data-entrypoint") || "";
  var base;
  try { base = new URL(script.src, location.href).origin; } catch (e) { return; }
  // One widget per page, as the official component requires.
  if (document.querySelector('[data-element="feedback"]')) return;

  function pageLang() {
    var tag = script.getAttribute("data-lang") || document.documentElement.lang || "it";
    var primary = tag.toLowerCase().split(/[-_]/)[0];
    return ["it", "en", "de"].indexOf(primary) >= 0 ? primary : "it";
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var key in attrs) if (attrs[key] !== null) node.setAttribute(key, attrs[key]);
    if (text) node.textContent = text;
    return node;
  }

  function mountPoint() {
    var target = document.querySelector('[data-satisfy-entrypoint="' + entrypoint + '"]') ||
      (script.getAttribute("data-target") && document.querySelector(script.getAttribute("data-target")));
    if (target) return { parent: target, before: null };
    var main = document.querySelector("main");
    if (main) return { parent: main, before: null };
    var footer = document.querySelector("footer");
    if (footer && footer.parentNode) return { parent: footer.parentNode, before: footer };
    return { parent: document.body, before: null };
  }

  // Reserve the widget's space at once so the page does not shift when it renders.
  var root = el("div", { "class": "satisfy-feedback satisfy-loading", "data-element": "feedback" });
  var mount = mountPoint();
  mount.parent.insertBefore(root, mount.before);

  var STAR = "M12 2.5l2.9 6.1 6.6.8-4.9 4.6 1.3 6.6L12 17.3 6.1 20.6l1.3-6.6L2.5 9.4l6.6-.8z";

  // Resolves to the WASM encoder, or to null when WebAssembly cannot run here.
  var wasmReady = typeof WebAssembly === "object"
    ? initWasm({ module_or_path: base + "/widget/v1/" + SATISFY_WASM }).then(
      function () { return wasmEncodeRating; },
      function () { return null; })
    : Promise.resolve(null);

  // The fallback: the same wire format, validated by the server either way.
  function jsEncodeRating(id, ep, page, rating, answers, comment, lang, widget) {
    var trimmed = comment.trim();
    return JSON.stringify({
      id: id, entrypoint: ep, page: page, rating: rating,
      answers: answers ? answers.split(" ") : [], comment: trimmed || null, lang: lang, widget: widget
    });
  }

  function render(config, wasmEncode) {
    var s = config.survey;
    var encodeRating = wasmEncode || jsEncodeRating;
    root.setAttribute("data-satisfy-engine", wasmEncode ? "wasm" : "js");
    var id = uuid();
    var state = { rating: 0, answers: {}, comment: "", step: 0, sent: null, inFlight: false };
    var uid = "satisfy-" + id.slice(0, 8);
    root.classList.remove("satisfy-loading");
    root.setAttribute("lang", s.lang);

    var card = el("div", { "class": "satisfy-card" });
    card.appendChild(el("h2", { "class": "satisfy-title", "data-element": "feedback-title" }, s.title));

    var stars = el("fieldset", { "class": "satisfy-stars" });
    stars.appendChild(el("legend", { "class": "satisfy-sr-only" }, s.stars_legend));
    var starLabels = [];
    for (var n = 1; n <= 5; n++) {
      var input = el("input", { type: "radio", name: uid + "-rating", id: uid + "-star-" + n, value: String(n), "class": "satisfy-sr-only" });
      var label = el("label", { "for": uid + "-star-" + n, "class": "satisfy-star", "data-element": "feedback-rate-" + n });
      label.innerHTML = '<svg viewBox="0 0 24 24" width="32" height="32" aria-hidden="true" focusable="false"><path d="' + STAR + '"/></svg>';
      label.appendChild(el("span", { "class": "satisfy-sr-only" }, s.star_labels[n - 1]));
      stars.appendChild(input);
      stars.appendChild(label);
      starLabels.push(label);
    }
    card.appendChild(stars);

    var step1 = el("div", { "class": "satisfy-step", hidden: "" });
    var followUps = s.follow_ups.map(function (f) {
      var official = f.id === "negative" || f.id === "positive";
      var fs = el("fieldset", { "class": "satisfy-question", "data-element": official ? "feedback-rating-" + f.id : null, hidden: "" });
      fs.appendChild(el("legend", { "data-element": official ? "feedback-rating-question" : null }, f.question));
      f.options.forEach(function (o) {
        var row = el("div", { "class": "satisfy-option" });
        var oid = uid + "-" + f.id + "-" + o.id;
        var radio = el("input", { type: "radio", name: uid + "-" + f.id, id: oid, value: o.id });
        radio.addEventListener("change", function () { state.answers[f.id] = o.id; });
        row.appendChild(radio);
        row.appendChild(el("label", { "for": oid, "data-element": official ? "feedback-rating-answer" : null }, o.label));
        fs.appendChild(row);
      });
      step1.appendChild(fs);
      return { def: f, node: fs };
    });
    card.appendChild(step1);

    var step2 = el("div", { "class": "satisfy-step", hidden: "" });
    step2.appendChild(el("p", { "class": "satisfy-question-text", id: uid + "-details-q" }, s.details_question));
    step2.appendChild(el("label", { "for": uid + "-details", "class": "satisfy-label" }, s.details_label));
    var details = el("input", { type: "text", id: uid + "-details", "data-element": "feedback-input-text", maxlength: String(s.details_max_chars), "aria-describedby": uid + "-details-q", autocomplete: "off" });
    details.addEventListener("input", function () { state.comment = details.value; });
    step2.appendChild(details);
    card.appendChild(step2);

    var buttons = el("div", { "class": "satisfy-buttons", hidden: "" });
    var back = el("button", { type: "button", "class": "satisfy-btn satisfy-btn-secondary" }, s.back);
    var next = el("button", { type: "button", "class": "satisfy-btn satisfy-btn-primary" }, s.next);
    buttons.appendChild(back);
    buttons.appendChild(next);
    card.appendChild(buttons);

    var thanks = el("p", { "class": "satisfy-thanks", role: "status" });
    card.appendChild(thanks);
    root.appendChild(card);

    // The wire JSON of the current state, or null if the core refuses it (the error code
    // goes to the console: nothing a citizen could fix, e.g. a page that is not http(s)).
    function payload() {
      var answers = [];
      followUps.forEach(function (f) {
        var a = state.answers[f.def.id];
        if (a && f.def.shown_for.indexOf(state.rating) >= 0) answers.push(a);
      });
      try {
        return encodeRating(id, entrypoint, location.origin + location.pathname, state.rating,
          answers.join(" "), state.comment, s.lang, VERSION);
      } catch (code) {
        if (window.console) console.warn("Satisfy widget: rating not sent:", code);
        return null;
      }
    }

    // Sends the latest state; updates go out in order and a newer state replaces a queued
    // one, so the server sees the same id with ever more complete versions.
    function flush(attempt) {
      var body = payload();
      if (state.inFlight || body === null || body === state.sent) return;
      state.inFlight = true;
      fetch(base + "/v1/ratings", {
        method: "POST", body: body, keepalive: true, credentials: "omit", mode: "cors",
        headers: { "Content-Type": "text/plain;charset=UTF-8" }
      }).then(function (r) {
        state.inFlight = false;
        if (r.status === 202 || (r.status >= 400 && r.status < 500 && r.status !== 429)) {
          state.sent = body; // accepted, or refused for good: retrying would not help
          flush(0);
        } else {
          retry(attempt, Number(r.headers.get("Retry-After")));
        }
      }, function () {
        state.inFlight = false;
        retry(attempt, 0);
      });
    }

    function retry(attempt, retryAfter) {
      if (attempt >= 6) return;
      var wait = retryAfter > 0 ? retryAfter * 1000 : Math.min(30000, 500 * Math.pow(2, attempt));
      setTimeout(function () { flush(attempt + 1); }, wait + Math.random() * 250);
    }

    function flushOnLeave() {
      var body = state.rating ? payload() : null;
      if (body !== null && body !== state.sent && navigator.sendBeacon) {
        if (navigator.sendBeacon(base + "/v1/ratings", new Blob([body], { type: "text/plain;charset=UTF-8" }))) state.sent = body;
      }
    }
    document.addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") flushOnLeave(); });
    window.addEventListener("pagehide", flushOnLeave);

    function show(step) {
      state.step = step;
      step1.hidden = step !== 1;
      step2.hidden = step !== 2;
      buttons.hidden = step === 0 || step === 3;
      followUps.forEach(function (f) { f.node.hidden = f.def.shown_for.indexOf(state.rating) < 0; });
    }

    stars.addEventListener("change", function (event) {
      var value = Number(event.target.value);
      if (!value) return;
      state.rating = value;
      starLabels.forEach(function (l, i) { l.classList.toggle("satisfy-on", i < value); });
      if (state.step !== 2) show(1);
      else show(2);
      flush(0);
    });

    back.addEventListener("click", function () { show(state.step === 2 ? 1 : 0); });
    next.addEventListener("click", function () {
      if (state.step === 1) {
        show(2);
        return;
      }
      show(3);
      stars.hidden = true;
      card.querySelector(".satisfy-title").hidden = true;
      thanks.textContent = s.thanks;
      flush(0);
    });
  }

  var configReady = fetch(base + "/v1/entrypoints/" + encodeURIComponent(entrypoint) + "/widget-config?lang=" + pageLang(), { credentials: "omit", mode: "cors" })
    .then(function (r) { if (!r.ok) throw new Error("widget-config " + r.status); return r.json(); });
  Promise.all([configReady, wasmReady])
    .then(function (loaded) { render(loaded[0], loaded[1]); })
    .catch(function (error) {
      // Never break the host page: log and give the reserved space back.
      if (root.parentNode) root.parentNode.removeChild(root);
      if (window.console) console.warn("Satisfy widget:", error);
    });

  if (!document.querySelector('link[data-satisfy-css]')) {
    var css = el("link", { rel: "stylesheet", href: base + "/widget/v1/" + SATISFY_CSS, "data-satisfy-css": "" });
    document.head.appendChild(css);
  }
})();
