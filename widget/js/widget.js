/*! Satisfy widget: the official Modello Comuni feedback component. */
// Renders in the host page's light DOM (the AgID validator uses document.querySelector),
// sets no cookies and talks only to the origin it was loaded from. Texts and option ids
// come from the entrypoint's widget-config; ratings are validated and encoded by the
// WebAssembly core compiled from satisfy-core, or by the plain-JS fallback below when the
// page's Content-Security-Policy or the browser does not allow WebAssembly.
// widget/build.sh bundles this file and defines SATISFY_VERSION, SATISFY_WASM and
// SATISFY_CSS (the versioned file names) and SATISFY_STYLES (the minified CSS itself).
(function () {
  "use strict";
  var VERSION = SATISFY_VERSION;
  var script = document.currentScript || document.querySelector("script[data-entrypoint]");
  if (!script || !script.src) return;
  var entrypoint = script.getAttribute("data-entrypoint") || "";
  var base;
  try { base = new URL(script.src, location.href).origin; } catch (e) { return; }
  var FEEDBACK = '[data-element="feedback"]';

  function warn(what) {
    console.warn("Satisfy widget: " + what);
  }
  if (!/^ep_[\w-]{16}$/.test(entrypoint)) return warn('data-entrypoint="' + entrypoint + '" is not an entrypoint id');

  // A console preview shows the widget working and stores nothing.
  var preview = script.hasAttribute("data-preview");

  function pageLang() {
    var tag = script.getAttribute("data-lang") || document.documentElement.lang || "it";
    var primary = tag.toLowerCase().split(/[-_]/)[0];
    return ["it", "en", "de"].indexOf(primary) >= 0 ? primary : "it";
  }

  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    // Pages on plain HTTP have no randomUUID: the same version 4 layout from random bytes
    // (each 0, 1 and 8 of the template gets random bits; 4 and the variant stay).
    return "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) => {
      return (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16);
    });
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var key in attrs) if (attrs[key] !== null) node.setAttribute(key, attrs[key]);
    if (text) node.textContent = text;
    return node;
  }

  function remove(node) {
    if (node && node.parentNode) node.parentNode.removeChild(node);
  }

  // The core's interface (widget/src/wasm.rs): strings go in as (pointer, length) pairs in
  // memory from `alloc`; the result is three u32: status, pointer and length of the text.
  function wasmEncoder(core) {
    var encoder = new TextEncoder();
    function pass(text) {
      var bytes = encoder.encode(text);
      var ptr = core.alloc(bytes.length);
      new Uint8Array(core.memory.buffer, ptr, bytes.length).set(bytes);
      return [ptr, bytes.length];
    }
    return (id, ep, page, rating, answers, comment, lang, widget) => {
      var args = [].concat(pass(id), pass(ep), pass(page), rating, pass(answers), pass(comment), pass(lang), pass(widget));
      // The call may grow the memory, which replaces its buffer: read it afterwards.
      var pointer = core.encode_rating.apply(null, args);
      var result = new Uint32Array(core.memory.buffer, pointer, 3);
      var text = new TextDecoder().decode(new Uint8Array(core.memory.buffer, result[1], result[2]));
      if (result[0]) throw text;
      return text;
    };
  }

  // Compiling the smallest module tells whether the page's CSP allows WebAssembly, before
  // the core is downloaded for nothing.
  function wasmAllowed() {
    try {
      return !!new WebAssembly.Module(Uint8Array.of(0, 97, 115, 109, 1, 0, 0, 0));
    } catch (e) {
      return false;
    }
  }

  // Whether WebAssembly can run here at all (a page's CSP may forbid it).
  var wasmCan = typeof WebAssembly === "object" && wasmAllowed();

  // Resolves to the WASM encoder, or to null when it cannot run or load here. Called when
  // the widget nears the viewport or is first touched, not before: what a page downloads
  // for a widget nobody looks at stays the loader, its CSS and its texts.
  function loadCore() {
    if (!wasmCan) return Promise.resolve(null);
    var file = fetch(base + "/widget/v1/" + SATISFY_WASM, { credentials: "omit" });
    return (WebAssembly.instantiateStreaming
      ? WebAssembly.instantiateStreaming(file, {})
      : file.then((r) => { return r.arrayBuffer(); }).then((b) => { return WebAssembly.instantiate(b, {}); }))
      .then((m) => { return wasmEncoder(m.instance.exports); }, () => { return null; });
  }

  // The fallback: the same wire format, validated by the server either way.
  function jsEncodeRating(id, ep, page, rating, answers, comment, lang, widget) {
    var trimmed = comment.trim();
    return JSON.stringify({
      id: id, entrypoint: ep, page: page, rating: rating,
      answers: answers ? answers.split(" ") : [], comment: trimmed || null, lang: lang, widget: widget
    });
  }

  // The entrypoint's own loader (/widget/v1/ep_….js, the console's snippet) sets
  // `satisfyBoot` on its script element before this code runs when the element's
  // `data-entrypoint` is that entrypoint: the widget-config's survey in one language, so the
  // stars render when the loader runs, with no request in between. The shared loader
  // (/widget/v1/satisfy.js, earlier snippets) sets it the same way when the server put the
  // surveys of the page's site in front and this entrypoint is among them. Otherwise, or on
  // a page in another language, the loader asks for the configuration.
  var boot = script.satisfyBoot;
  var lang = pageLang();
  var configReady = boot && boot.lang === lang ? Promise.resolve({ survey: boot })
    : fetch(base + "/v1/entrypoints/" + encodeURIComponent(entrypoint) + "/widget-config?lang=" + lang, { credentials: "omit" })
      .then((r) => { if (!r.ok) throw "entrypoint " + entrypoint + " unknown or paused (widget-config " + r.status + ")"; return r.json(); });
  // Handled in mount(); this keeps an early failure from reaching the host's error tracker.
  configReady.catch(() => {});

  // Bootstrap Italia (the Modello Comuni templates and the CMS themes derived from them)
  // declares its version as a CSS variable and, through its JS, as a global.
  function bootstrapItalia() {
    return !!(window.BOOTSTRAP_ITALIA_VERSION ||
      getComputedStyle(document.documentElement).getPropertyValue("--bootstrap-italia-version").trim());
  }

  // Where the official templates put the component: a full-width band before the grey
  // block of contacts and related content that closes <main>, else at the end of <main>,
  // else before the footer.
  function band() {
    var node = el("div", { "class": "satisfy-band" });
    node.appendChild(el("div")).appendChild(el("div")).appendChild(el("div"));
    var main = document.querySelector("main");
    var footer = document.querySelector("body > footer") || document.querySelector("footer");
    // The closing block is the child of <main> that holds the contacts, unless that child
    // wraps the whole page (the H1 included).
    var block = main && main.querySelector(".bg-grey-card,.cmp-contacts");
    while (block && block.parentNode !== main) block = block.parentNode;
    if (block && !block.querySelector("h1")) main.insertBefore(node, block);
    else if (main) main.appendChild(node);
    else if (footer) footer.parentNode.insertBefore(node, footer);
    else document.body.appendChild(node);
    return node;
  }

  var TARGET = '[data-satisfy-entrypoint="' + entrypoint + '"]';

  // `early`: the page is still being parsed (see the end of this file).
  function mount(early) {
    var page = document.documentElement;
    if (page.hasAttribute("data-satisfy")) return warn("already on this page, loaded twice");
    page.setAttribute("data-satisfy", "");
    addStyles();
    var statics = [].slice.call(document.querySelectorAll(FEEDBACK));
    var target = document.querySelector(TARGET);
    if (!target && statics.length > 1) {
      return warn(statics.length + " feedback components (AgID checks the first): keep one," +
        " or add <div data-satisfy-entrypoint=\"" + entrypoint + "\"></div> where the widget goes");
    }
    // A static component (the template's own markup, which collects nothing) is replaced in
    // place once the widget can render; until then it stays, so a failure leaves it working.
    var replaced = target ? null : statics[0];
    var root = el("div", { "class": "satisfy-feedback satisfy-loading" });
    var holder = replaced ? null : target || band();
    if (holder) (holder === target ? holder : holder.firstChild.firstChild.firstChild).appendChild(root);
    var rendered = false, failed = false;
    configReady.then((config) => {
      var bi = bootstrapItalia();
      // Rendered before the template's component goes, so a failure leaves that one working.
      render(root, config, bi);
      rendered = true;
      if (replaced) replaced.parentNode.replaceChild(root, replaced);
      // A mount target wins over the template's component: the page keeps exactly one.
      statics.forEach(remove);
      if (holder && holder !== target) {
        holder.className = bi ? "satisfy-band bg-primary" : "satisfy-band satisfy-band-own";
        if (bi) {
          holder.firstChild.className = "container";
          holder.firstChild.firstChild.className = "row justify-content-center";
          holder.firstChild.firstChild.firstChild.className = "col-12 col-lg-6";
        }
      }
    }).catch((error) => {
      failed = true;
      // Never break the host page: log and give the reserved space back.
      remove(holder === target ? root : holder);
      warn(error);
    });
    // What the rest of the page brings once parsed: a mount target still wins, and a
    // template component found only now goes too, so the page keeps exactly one.
    if (early) document.addEventListener("DOMContentLoaded", () => {
      if (failed) return;
      var later = document.querySelector(TARGET);
      if (later && later !== target) {
        later.appendChild(root);
        if (holder !== target) remove(holder);
        holder = target = later;
        replaced = null;
      }
      statics = [].filter.call(document.querySelectorAll(FEEDBACK), (node) => {
        return node !== root && node !== replaced;
      });
      if (rendered) statics.forEach(remove);
    });
  }

  // The styles travel inside the loader and apply as a constructed style sheet, which a
  // page's Content-Security-Policy does not restrict and which needs no request; browsers
  // without constructed sheets load the same styles as a file.
  function addStyles() {
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(SATISFY_STYLES);
      document.adoptedStyleSheets = document.adoptedStyleSheets.concat(sheet);
    } catch (e) {
      document.head.appendChild(el("link", { rel: "stylesheet", href: base + "/widget/v1/" + SATISFY_CSS }));
    }
  }

  var STAR = "M12 2.5l2.9 6.1 6.6.8-4.9 4.6 1.3 6.6L12 17.3 6.1 20.6l1.3-6.6L2.5 9.4l6.6-.8z";

  // One markup for both looks: with Bootstrap Italia the elements also carry the classes of
  // the official component, so the theme's colours, fonts and spacing apply.
  function render(root, config, bi) {
    var s = config.survey;
    // The JS encoder until the core has loaded (or for good where it cannot).
    var encodeRating = jsEncodeRating;
    var core = null;
    function useCore() {
      return core || (core = loadCore().then((wasm) => {
        if (wasm) encodeRating = wasm;
        else root.setAttribute("data-satisfy-engine", "js");
      }));
    }
    var id = uuid();
    var uid = "satisfy-" + id.slice(0, 8);
    // `rating` is what citizens chose and may be sent; `shown` is what the stars display.
    var state = { rating: 0, shown: 0, answers: {}, comment: "", step: 0, sent: null, inFlight: false };
    // Only clicks that come from a person (mouse, touch, keyboard or assistive technology:
    // `isTrusted`) choose what is sent. The AgID validator and other checkers call click()
    // on the stars: the widget shows what they choose but never sends it.
    function theme(own, official) { return bi ? own + " " + official : own; }

    root.className = bi ? "satisfy-feedback satisfy-bi card shadow card-wrapper" : "satisfy-feedback satisfy-own";
    root.setAttribute("data-element", "feedback");
    root.setAttribute("data-satisfy-engine", wasmCan ? "wasm" : "js");
    root.setAttribute("lang", s.lang);

    var title = root.appendChild(el("h2", { "class": "satisfy-title", "data-element": "feedback-title" }, s.title));
    var stars = root.appendChild(el("fieldset", { "class": "satisfy-stars" }));
    stars.appendChild(el("legend", { "class": "satisfy-sr-only" }, s.stars_legend));
    var starLabels = [];
    for (var n = 1; n <= 5; n++) {
      stars.appendChild(el("input", { type: "radio", name: uid + "-rating", id: uid + "-star-" + n, value: String(n), "class": "satisfy-sr-only" }));
      var label = stars.appendChild(el("label", { "for": uid + "-star-" + n, "class": "satisfy-star", "data-element": "feedback-rate-" + n }));
      label.innerHTML = '<svg viewBox="0 0 24 24" width="32" height="32" aria-hidden="true" focusable="false"><path d="' + STAR + '"/></svg>';
      label.appendChild(el("span", { "class": "satisfy-sr-only" }, s.star_labels[n - 1]));
      starLabels.push(label);
    }

    // A question's legend with the official step counter ("1/2") beside its text.
    function legend(fieldset, text, dataElement, step) {
      var node = fieldset.appendChild(el("legend"));
      node.appendChild(el("span", { "data-element": dataElement }, text));
      node.appendChild(el("span", { "class": "satisfy-count" }, step + "/2"));
    }

    var step1 = root.appendChild(el("div", { "class": "satisfy-step", hidden: "" }));
    var followUps = s.follow_ups.map((f) => {
      var official = f.id === "negative" || f.id === "positive";
      var fieldset = step1.appendChild(el("fieldset", { "data-element": official ? "feedback-rating-" + f.id : null, hidden: "" }));
      legend(fieldset, f.question, official ? "feedback-rating-question" : null, 1);
      var list = fieldset.appendChild(el("div", { "class": theme("satisfy-options", "form-check") }));
      f.options.forEach((o) => {
        var row = list.appendChild(el("div", { "class": "satisfy-option" }));
        var oid = uid + "-" + f.id + "-" + o.id;
        var radio = row.appendChild(el("input", { type: "radio", name: uid + "-" + f.id, id: oid, value: o.id }));
        radio.addEventListener("click", (event) => {
          if (event.isTrusted) state.answers[f.id] = o.id;
        });
        row.appendChild(el("label", { "for": oid, "data-element": official ? "feedback-rating-answer" : null }, o.label));
      });
      return { def: f, node: fieldset };
    });

    var step2 = root.appendChild(el("fieldset", { "class": "satisfy-step", hidden: "" }));
    legend(step2, s.details_question, null, 2);
    step2.appendChild(el("label", { "for": uid + "-details", "class": "satisfy-label" }, s.details_label));
    var details = step2.appendChild(el("input", { type: "text", id: uid + "-details", "class": theme("satisfy-text", "form-control"), "data-element": "feedback-input-text", maxlength: String(s.details_max_chars), autocomplete: "off" }));
    details.addEventListener("input", (event) => { if (event.isTrusted) state.comment = details.value; });

    var buttons = root.appendChild(el("div", { "class": "satisfy-buttons", hidden: "" }));
    var back = buttons.appendChild(el("button", { type: "button", "class": theme("satisfy-btn satisfy-back", "btn btn-outline-primary fw-bold") }, s.back));
    var next = buttons.appendChild(el("button", { type: "button", "class": theme("satisfy-btn satisfy-next", "btn btn-primary fw-bold") }, s.next));
    var thanks = root.appendChild(el("p", { "class": "satisfy-thanks", role: "status" }));
    root.classList.remove("satisfy-loading");
    // The core is fetched as the widget nears the viewport, or on first touch or focus.
    var near = new IntersectionObserver((entries) => {
      if (entries[0].isIntersecting) {
        near.disconnect();
        useCore();
      }
    }, { rootMargin: "400px" });
    near.observe(root);
    root.addEventListener("focusin", useCore);
    root.addEventListener("pointerdown", useCore);

    // The wire JSON of the current state, or null if the core refuses it (the error code
    // goes to the console: nothing a citizen could fix, e.g. a page that is not http(s)).
    function payload() {
      var answers = [];
      followUps.forEach((f) => {
        var a = state.answers[f.def.id];
        if (a && f.def.shown_for.indexOf(state.rating) >= 0) answers.push(a);
      });
      try {
        return encodeRating(id, entrypoint, location.origin + location.pathname, state.rating,
          answers.join(" "), state.comment, s.lang, VERSION);
      } catch (code) {
        warn("rating not sent: " + code);
        return null;
      }
    }

    // Sends the latest state, encoded by the core once it has loaded; updates go out in
    // order and a newer state replaces a queued one, so the server sees the same id with
    // ever more complete versions.
    function flush(attempt) {
      if (preview || !state.rating) return;
      useCore().then(() => { send(attempt); });
    }

    function send(attempt) {
      if (state.inFlight) return;
      var body = payload();
      if (body === null || body === state.sent) return;
      state.inFlight = true;
      fetch(base + "/v1/ratings", {
        method: "POST", body: body, keepalive: true, credentials: "omit",
        headers: { "Content-Type": "text/plain;charset=UTF-8" }
      }).then((r) => {
        state.inFlight = false;
        if (r.status === 202 || (r.status >= 400 && r.status < 500 && r.status !== 429)) {
          state.sent = body; // accepted, or refused for good: retrying would not help
          flush(0);
        } else {
          retry(attempt, Number(r.headers.get("Retry-After")));
        }
      }, () => {
        state.inFlight = false;
        retry(attempt, 0);
      });
    }

    function retry(attempt, retryAfter) {
      if (attempt >= 6) return;
      var wait = retryAfter > 0 ? retryAfter * 1000 : Math.min(30000, 500 * Math.pow(2, attempt));
      setTimeout(() => { flush(attempt + 1); }, wait + Math.random() * 250);
    }

    function flushOnLeave() {
      var body = state.rating && !preview ? payload() : null;
      if (body !== null && body !== state.sent && navigator.sendBeacon) {
        if (navigator.sendBeacon(base + "/v1/ratings", new Blob([body], { type: "text/plain;charset=UTF-8" }))) state.sent = body;
      }
    }
    document.addEventListener("visibilitychange", () => { if (document.visibilityState === "hidden") flushOnLeave(); });
    window.addEventListener("pagehide", flushOnLeave);

    function show(step) {
      state.step = step;
      step1.hidden = step !== 1;
      step2.hidden = step !== 2;
      buttons.hidden = step === 0 || step === 3;
      followUps.forEach((f) => { f.node.hidden = f.def.shown_for.indexOf(state.shown) < 0; });
    }

    stars.addEventListener("change", (event) => {
      var value = Number(event.target.value);
      state.shown = value;
      starLabels.forEach((l, i) => { l.classList.toggle("satisfy-on", i < value); });
      show(state.step === 2 ? 2 : 1);
    });
    // A person's click, also on a star a checker already selected (no change event then).
    stars.addEventListener("click", (event) => {
      var input = event.target;
      if (event.isTrusted && input.checked && input.value) {
        state.rating = Number(input.value);
        flush(0);
      }
    });

    back.addEventListener("click", () => {
      show(state.step === 2 ? 1 : 0);
      // The buttons just hid: keep the keyboard where the citizen was.
      var checked = stars.querySelector("input:checked");
      if (state.step === 0 && checked) checked.focus();
    });
    next.addEventListener("click", (event) => {
      if (state.step === 1) return show(2);
      show(3);
      stars.hidden = title.hidden = true;
      thanks.textContent = s.thanks;
      thanks.setAttribute("tabindex", "-1");
      thanks.focus();
      if (event.isTrusted) flush(0);
    });
  }

  // With the snippet in <head>, an early tag or a page that streams slowly, the body is not
  // complete yet: the mount target, the static component and <main> may still be coming.
  // Once <main> is parsed whole (something follows it), what the widget looks for in it is
  // there, and it mounts without waiting for the rest: the scripts that close a template's
  // body (Bootstrap Italia's) may take seconds to arrive on a slow network.
  function mainParsed() {
    for (var node = document.querySelector("main"); node && node !== document.body; node = node.parentNode) {
      if (node.nextSibling) return true;
    }
    return false;
  }

  if (document.readyState !== "loading") mount(false);
  else {
    var mounted = false;
    var once = (early) => {
      return () => {
        if (mounted) return;
        // Looked at again before each frame: mounting before the frame that first shows
        // what follows <main> moves nothing already painted.
        if (early && !mainParsed()) return requestAnimationFrame(once(true));
        mounted = true;
        mount(early);
      };
    };
    document.addEventListener("DOMContentLoaded", once(false));
    // The first frame comes once the style sheets in <head> have loaded, which the look
    // follows (HTML's "render-blocking"); hidden pages have no frames and wait for the parse.
    requestAnimationFrame(once(true));
  }
})();
