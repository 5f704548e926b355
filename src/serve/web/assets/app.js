// pond's pages: search, a session's transcript, the fleet and its spend.
//
// Everything shown comes from the JSON API under /v1 and is put on the page
// as text nodes: no answer is ever parsed as HTML, so a session that holds
// markup, scripts or links stays inert. Markdown is rendered by building
// elements, and only links to http(s) pages are made clickable; images in
// messages are never loaded (they would reach other hosts).
"use strict";

(() => {
  const main = document.getElementById("main");
  const who = document.getElementById("who");
  let me = null;
  let leaving = () => {};

  // ---- DOM helpers -------------------------------------------------------

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function svg(tag, attrs, ...children) {
    const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    append(el, children);
    return el;
  }

  function clear(el) {
    while (el.firstChild) el.firstChild.remove();
    return el;
  }

  // A link inside the app: followed without reloading the page.
  function navLink(href, attrs, ...children) {
    return h("a", Object.assign({ href, "data-nav": true }, attrs || {}), ...children);
  }

  function sessionHref(sessionId, messageId) {
    const path = "/session/" + encodeURIComponent(sessionId);
    return messageId ? path + "#m-" + encodeURIComponent(messageId) : path;
  }

  const numberFormat = new Intl.NumberFormat("en-US");
  // For benches/web.rs: a performance mark once the browser has painted
  // what was just put on the page (the task after the next frame).
  const markPainted = (name) => requestAnimationFrame(() => setTimeout(() => performance.mark(name), 0));
  const fmt = (n) => (n === null || n === undefined ? "–" : numberFormat.format(n));
  const usd = (n) => (n === null || n === undefined ? "unpriced" : "$" + n.toFixed(2));

  function when(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
  }

  function ago(iso) {
    if (!iso) return "never";
    const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
    if (s < 90) return Math.round(s) + " s ago";
    if (s < 5400) return Math.round(s / 60) + " min ago";
    if (s < 172800) return Math.round(s / 3600) + " h ago";
    return Math.round(s / 86400) + " days ago";
  }

  // ---- the API -----------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, options) {
    const opts = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
    if (opts.method && opts.method !== "GET") opts.headers["x-pond-csrf"] = "1";
    if (opts.json !== undefined) {
      opts.headers["content-type"] = "application/json";
      opts.body = JSON.stringify(opts.json);
      delete opts.json;
    }
    const response = await fetch(path, opts);
    if (response.status === 401 && !path.startsWith("/web/")) {
      toSignIn();
      throw new ApiError(401, "sign in to see this");
    }
    if (!response.ok) {
      let message = response.statusText;
      try {
        message = (await response.json()).error || message;
      } catch (_) {
        /* not JSON: keep the status text */
      }
      throw new ApiError(response.status, message);
    }
    return response.status === 204 ? null : response.json();
  }

  function toSignIn() {
    if (location.pathname === "/signin") return;
    const next = location.pathname + location.search + location.hash;
    go("/signin?next=" + encodeURIComponent(next), true);
  }

  function showError(where, e) {
    if (e instanceof ApiError && e.status === 401) return;
    append(where, [h("p", { class: "error", role: "alert", text: e.message || String(e) })]);
  }

  // ---- routing -----------------------------------------------------------

  function go(href, replace) {
    if (replace) history.replaceState(null, "", href);
    else history.pushState(null, "", href);
    render();
  }

  document.addEventListener("click", (event) => {
    const a = event.target.closest && event.target.closest("a[data-nav]");
    if (!a || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin) return;
    event.preventDefault();
    if (url.pathname === location.pathname && url.search === location.search && url.hash) {
      history.pushState(null, "", url.pathname + url.search + url.hash);
      focusMessage(decodeURIComponent(url.hash.slice(3)));
      return;
    }
    go(url.pathname + url.search + url.hash);
  });
  window.addEventListener("popstate", () => render());

  async function render() {
    leaving();
    leaving = () => {};
    const path = location.pathname;
    const page = path.startsWith("/session/")
      ? "session"
      : path === "/fleet"
        ? "fleet"
        : path === "/spend"
          ? "spend"
          : path === "/signin"
            ? "signin"
            : "search";
    for (const a of document.querySelectorAll("header nav a")) {
      if (a.dataset.page === page) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    clear(main);
    document.body.dataset.page = page;
    // Without a token the API answers 401 and the page has gone to sign-in.
    if (page !== "signin" && !(await loadMe())) return;
    if (page === "session") return sessionPage(decodeURIComponent(path.slice("/session/".length)));
    if (page === "fleet") return fleetPage();
    if (page === "spend") return spendPage();
    if (page === "signin") return signInPage();
    return searchPage();
  }

  async function loadMe() {
    try {
      me = await api("/v1/me");
    } catch (e) {
      me = null;
      if (e instanceof ApiError && e.status === 401) return false;
      showError(main, e);
      return false;
    }
    clear(who);
    const limits = [me.project_prefix && "project " + me.project_prefix, me.host_prefix && "hosts " + me.host_prefix]
      .filter(Boolean)
      .join(", ");
    append(who, [
      h("span", { text: me.tokens_required ? "signed in as " + me.name : "local access" }),
      limits ? h("span", { class: "badge", text: limits }) : null,
      me.tokens_required ? h("button", { type: "button", id: "signout", onclick: signOut }, "Sign out") : null,
    ]);
    return true;
  }

  async function signOut() {
    await api("/web/signout", { method: "POST" });
    me = null;
    clear(who);
    go("/signin", false);
  }

  // ---- sign-in -----------------------------------------------------------

  function signInPage() {
    document.title = "Sign in · pond";
    clear(who);
    const token = h("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: true });
    const status = h("div", { "aria-live": "polite" });
    const form = h(
      "form",
      {
        onsubmit: async (event) => {
          event.preventDefault();
          clear(status);
          try {
            await api("/web/signin", { method: "POST", json: { token: token.value } });
            const next = new URLSearchParams(location.search).get("next") || "/";
            go(next.startsWith("/") && !next.startsWith("//") ? next : "/", true);
          } catch (e) {
            showError(status, e);
          }
        },
      },
      h("label", { for: "token" }, "Token (from pond token create)"),
      token,
      h("button", { class: "primary", type: "submit" }, "Sign in"),
      status,
    );
    append(main, [
      h("section", { class: "signin" }, h("h1", { text: "Sign in to pond" }), h("p", { class: "note", text: "The token stays in an HttpOnly cookie of this browser until you sign out." }), form),
    ]);
    token.focus();
  }

  // ---- search ------------------------------------------------------------

  const FILTERS = [
    ["client", "Client", "select"],
    ["project", "Project", "text"],
    ["host", "Host", "text"],
    ["role", "Role", ["", "user", "assistant", "system", "tool", "developer"]],
    ["kind", "Part", ["", "text", "thinking", "tool-call", "tool-result", "file", "other"]],
    ["tool", "Tool", "text"],
    ["since", "Since", "text"],
    ["until", "Until", "text"],
    ["mode", "Mode", ["", "hybrid", "fts", "vector"]],
  ];
  const DEBOUNCE_MS = 200;
  let searchSeq = 0;

  async function searchPage() {
    document.title = "Search · pond";
    const params = new URLSearchParams(location.search);
    const box = h("input", {
      id: "q",
      class: "searchbox",
      type: "search",
      placeholder: "Search every session (press / to focus)",
      "aria-label": "Search",
      autocomplete: "off",
      value: params.get("q") || "",
    });
    const controls = {};
    const filterRow = h("div", { class: "filters", role: "group", "aria-label": "Filters" });
    for (const [name, label, type] of FILTERS) {
      let input;
      if (Array.isArray(type)) {
        input = h("select", { id: "f-" + name, name }, type.map((v) => h("option", { value: v, text: v || "any" })));
      } else if (type === "select") {
        input = h("select", { id: "f-" + name, name }, h("option", { value: "", text: "any" }));
      } else {
        input = h("input", { id: "f-" + name, name, type: "text", autocomplete: "off", placeholder: name === "since" || name === "until" ? "7d, 2026-11-01" : "" });
      }
      input.value = params.get(name) || "";
      controls[name] = input;
      filterRow.append(h("label", { for: "f-" + name }, label, input));
    }
    const clearButton = h("button", { type: "button", id: "clear-filters" }, "Clear filters");
    filterRow.append(clearButton);
    const results = h("section", { id: "results", "aria-live": "polite", "aria-label": "Results" });
    append(main, [h("h1", { class: "visually-hidden", text: "Search" }), box, filterRow, results]);

    // Clients for the select, from the status the token may see.
    api("/v1/status")
      .then((status) => {
        const select = controls.client;
        const chosen = params.get("client") || "";
        for (const c of status.clients) select.append(h("option", { value: c.client, text: c.client + " (" + fmt(c.sessions) + ")" }));
        if (chosen && ![...select.options].some((o) => o.value === chosen)) select.append(h("option", { value: chosen, text: chosen }));
        select.value = chosen;
      })
      .catch(() => {});

    let timer = null;
    const schedule = (delay) => {
      clearTimeout(timer);
      timer = setTimeout(run, delay);
    };
    box.addEventListener("input", () => schedule(DEBOUNCE_MS));
    for (const input of Object.values(controls)) {
      input.addEventListener(input.tagName === "SELECT" ? "change" : "input", () => schedule(input.tagName === "SELECT" ? 0 : DEBOUNCE_MS));
    }
    clearButton.addEventListener("click", () => {
      for (const input of Object.values(controls)) input.value = "";
      schedule(0);
    });
    box.addEventListener("keydown", (e) => keyNav(e, results));
    results.addEventListener("keydown", (e) => keyNav(e, results));
    leaving = () => clearTimeout(timer);

    async function run() {
      const query = box.value.trim();
      const state = new URLSearchParams();
      if (query) state.set("q", query);
      for (const [name, input] of Object.entries(controls)) if (input.value.trim()) state.set(name, input.value.trim());
      const url = "/" + (state.toString() ? "?" + state : "");
      if (url !== location.pathname + location.search) history.replaceState(null, "", url);
      const seq = ++searchSeq;
      performance.mark("pond-search-" + seq);
      if (!query) {
        clear(results);
        results.append(h("p", { class: "note", text: "Type to search every session the server holds." }));
        return;
      }
      const body = { query, limit: 20, per_session: 3 };
      for (const [name, input] of Object.entries(controls)) {
        const v = input.value.trim();
        if (!v) continue;
        if (["client", "host", "role", "kind", "tool"].includes(name)) body[name] = [v];
        else body[name] = v;
      }
      let answer;
      try {
        answer = await api("/v1/search", { method: "POST", json: body });
      } catch (e) {
        if (seq !== searchSeq) return;
        clear(results);
        showError(results, e);
        return;
      }
      if (seq !== searchSeq) return;
      paintResults(results, answer, body);
      // For the benchmark and the tests: the moment these results were on
      // the page.
      document.body.dataset.searchDone = String(seq);
      markPainted("pond-search-painted-" + seq);
    }
    if (box.value.trim()) run();
    else schedule(0);
    box.focus();
  }

  function paintResults(results, answer, request) {
    clear(results);
    for (const notice of answer.notices || []) results.append(h("p", { class: "notice", text: notice }));
    const filtered = Object.keys(request).some((k) => !["query", "limit", "per_session", "mode"].includes(k));
    if (!answer.hits.length) {
      const why =
        answer.in_scope === 0 && filtered
          ? "No results: the filters exclude every message. Widen or clear them."
          : "No results for “" + answer.query + "” among " + fmt(answer.in_scope) + " messages" + (filtered ? " the filters let in." : ".");
      results.append(h("p", { class: "note", id: "empty", text: why }));
      return;
    }
    results.append(h("p", { class: "note", text: fmt(answer.in_scope) + " messages searched (" + answer.mode + ")" }));
    const groups = new Map();
    for (const hit of answer.hits) {
      if (!groups.has(hit.session_id)) groups.set(hit.session_id, []);
      groups.get(hit.session_id).push(hit);
    }
    for (const [sessionId, hits] of groups) {
      const first = hits[0];
      const group = h(
        "article",
        { class: "group" },
        h(
          "header",
          {},
          navLink(sessionHref(sessionId), { text: first.project || sessionId }),
          h("span", { class: "badge", text: first.client }),
          h("span", { text: first.host }),
          h("span", { text: when(first.timestamp) }),
          first.session_matches > 1 ? h("span", { text: first.session_matches + " matches" }) : null,
        ),
      );
      for (const hit of hits) {
        group.append(
          navLink(
            sessionHref(sessionId, hit.message_id),
            { class: "hit" },
            h("span", { class: "badge", text: hit.role }),
            h("span", { class: "badge", text: hit.kind }),
            hit.tool ? h("span", { class: "badge", text: hit.tool }) : null,
            h("div", { class: "snippet" }, highlighted(hit.snippet, hit.highlights)),
          ),
        );
      }
      results.append(group);
    }
  }

  // The server gives matched ranges in UTF-8 bytes; the page works in
  // UTF-16, so ranges are cut from the encoded bytes.
  function highlighted(text, ranges) {
    if (!ranges || !ranges.length) return [text];
    const bytes = new TextEncoder().encode(text);
    const decoder = new TextDecoder();
    const out = [];
    let at = 0;
    for (const [start, end] of [...ranges].sort((a, b) => a[0] - b[0])) {
      if (start < at || end > bytes.length) continue;
      out.push(decoder.decode(bytes.subarray(at, start)));
      out.push(h("mark", { text: decoder.decode(bytes.subarray(start, end)) }));
      at = end;
    }
    out.push(decoder.decode(bytes.subarray(at)));
    return out;
  }

  function keyNav(event, results) {
    const hits = [...results.querySelectorAll("a.hit")];
    if (!hits.length) return;
    const current = hits.findIndex((a) => a.classList.contains("selected"));
    let next = current;
    if (event.key === "ArrowDown") next = Math.min(hits.length - 1, current + 1);
    else if (event.key === "ArrowUp") next = Math.max(0, current - 1);
    else if (event.key === "Enter" && current >= 0 && event.target.tagName === "INPUT") {
      event.preventDefault();
      hits[current].click();
      return;
    } else return;
    event.preventDefault();
    for (const a of hits) a.classList.remove("selected");
    hits[next].classList.add("selected");
    hits[next].scrollIntoView({ block: "nearest" });
    if (event.target !== document.getElementById("q")) hits[next].focus();
  }

  document.addEventListener("keydown", (event) => {
    if (event.key !== "/" || event.ctrlKey || event.metaKey) return;
    const tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select") return;
    const box = document.getElementById("q");
    if (box) {
      event.preventDefault();
      box.focus();
      box.select();
    } else {
      event.preventDefault();
      go("/");
    }
  });

  // ---- a session ---------------------------------------------------------

  const PAGE = 100;
  // Longer messages are shown as plain text, and cut, until asked for.
  const MARKDOWN_LIMIT = 100000;
  const SHOWN_LIMIT = 200000;

  async function sessionPage(sessionId) {
    document.title = "Session · pond";
    const target = location.hash.startsWith("#m-") ? decodeURIComponent(location.hash.slice(3)) : null;
    let offset = 0;
    try {
      if (target) {
        const found = await api("/v1/messages/" + encodeURIComponent(target) + "?neighbours=0");
        offset = Math.max(0, found.index - (found.index % PAGE));
      }
    } catch (e) {
      showError(main, e);
    }
    let first;
    try {
      first = await api("/v1/sessions/" + encodeURIComponent(sessionId) + "?full=true&limit=" + PAGE + "&offset=" + offset);
    } catch (e) {
      append(main, [h("h1", { text: "Session" })]);
      showError(main, e);
      return;
    }
    const s = first.session;
    document.title = (s.title || s.project || s.id) + " · pond";
    const resume = "pond resume " + s.id;
    const resumeInput = h("input", { id: "resume-command", readonly: true, value: resume, "aria-label": "Resume command" });
    const copied = h("span", { class: "note", "aria-live": "polite" });
    const children = h("div", { id: "subagents" });
    append(main, [
      h("h1", { text: s.title || s.project || s.id }),
      h(
        "div",
        { class: "meta" },
        h("span", { class: "badge", text: s.client }),
        h("span", { text: s.project || "" }),
        h("span", { text: "host " + s.host }),
        s.model ? h("span", { text: s.model }) : null,
        s.git_branch ? h("span", { text: "branch " + s.git_branch }) : null,
        h("span", { text: fmt(s.messages) + " messages" }),
        h("span", { text: when(s.started_at) + " – " + when(s.updated_at) }),
        s.redacted ? h("span", { class: "badge warn", text: "stored redacted" }) : null,
        me && me.redact ? h("span", { class: "badge", text: "secrets masked" }) : null,
      ),
      s.parent_id ? h("p", {}, "Subagent of ", navLink(sessionHref(s.parent_id), { id: "parent-link", text: s.parent_id })) : null,
      children,
      h(
        "div",
        { class: "actions" },
        resumeInput,
        h(
          "button",
          {
            type: "button",
            id: "copy-resume",
            onclick: async () => {
              resumeInput.select();
              try {
                await navigator.clipboard.writeText(resume);
                copied.textContent = "copied";
              } catch (_) {
                copied.textContent = "selected: press Ctrl+C";
              }
            },
          },
          "Copy resume command",
        ),
        h("a", { class: "button", id: "download-raw", href: "/v1/sessions/" + encodeURIComponent(s.id) + "/raw", download: "" }, "Download raw"),
        copied,
      ),
    ]);
    api("/v1/sessions?limit=100&parent=" + encodeURIComponent(s.id))
      .then((list) => {
        if (!list.sessions.length) return;
        append(children, [
          h("p", {}, "Subagents: ", list.sessions.map((c, i) => [i ? ", " : "", navLink(sessionHref(c.id), { class: "subagent-link", text: c.title || c.id })])),
        ]);
      })
      .catch(() => {});

    const transcript = h("section", { id: "transcript", "aria-label": "Transcript" });
    const earlier = h("div", { class: "pager" });
    const later = h("div", { class: "pager" });
    append(main, [earlier, transcript, later]);
    let low = first.offset;
    let high = first.next_offset;
    for (const m of first.messages) transcript.append(messageView(s.id, m));

    const loadEarlier = async () => {
      const from = Math.max(0, low - PAGE);
      const page = await api("/v1/sessions/" + encodeURIComponent(s.id) + "?full=true&limit=" + (low - from) + "&offset=" + from);
      const anchor = transcript.firstChild;
      for (const m of page.messages) transcript.insertBefore(messageView(s.id, m), anchor);
      low = from;
      pagers();
    };
    const loadLater = async () => {
      const page = await api("/v1/sessions/" + encodeURIComponent(s.id) + "?full=true&limit=" + PAGE + "&offset=" + high);
      for (const m of page.messages) transcript.append(messageView(s.id, m));
      high = page.next_offset;
      pagers();
    };
    const pagers = () => {
      clear(earlier);
      clear(later);
      if (low > 0) earlier.append(h("button", { type: "button", onclick: loadEarlier }, "Earlier messages (" + fmt(low) + ")"));
      if (high) later.append(h("button", { type: "button", id: "later", onclick: loadLater }, "Later messages (" + fmt(s.messages - high) + ")"));
    };
    pagers();
    if (target) focusMessage(target);
    document.body.dataset.sessionReady = s.id;
    markPainted("pond-session-painted");
  }

  function focusMessage(id) {
    const el = document.getElementById("m-" + id);
    if (!el) return;
    for (const old of document.querySelectorAll(".msg.target")) old.classList.remove("target");
    el.classList.add("target");
    el.scrollIntoView({ block: "start" });
  }

  function messageView(sessionId, m) {
    const link = navLink(sessionHref(sessionId, m.id), { class: "permalink", "aria-label": "Link to this message", text: "#" });
    const article = h(
      "article",
      { class: "msg role-" + m.role.replace(/[^a-z]/g, ""), id: "m-" + m.id },
      h("header", {}, h("strong", { text: m.role }), h("span", { text: when(m.timestamp) }), m.model ? h("span", { text: m.model }) : null, link),
    );
    const body = h("div", { class: "body" });
    let images = 0;
    for (const part of m.parts) body.append(isImage(part) ? imageView(m.id, images++, part.text) : partView(part));
    article.append(body);
    return article;
  }

  // An image the message holds inline (its part names it, e.g. "[image:
  // image/png]"): fetched from this server, which decodes it from the raw
  // record; a name in place of the picture when the record has none.
  function isImage(part) {
    return part.kind === "file" && /^\[image\b/.test(part.text || "");
  }

  function imageView(messageId, index, name) {
    const src = "/v1/messages/" + encodeURIComponent(messageId) + "/images/" + index;
    const img = h("img", { class: "stored-image", src, alt: name, loading: "lazy", decoding: "async" });
    const figure = h("figure", { class: "image" }, img);
    img.addEventListener("error", () => {
      clear(figure);
      figure.append(h("span", { class: "badge", text: name }));
    });
    return figure;
  }

  function partView(part) {
    const text = part.text || "";
    if (part.kind === "text") return textBlock(text);
    if (part.kind === "thinking") return h("details", { class: "thinking" }, h("summary", { text: "Reasoning" }), textBlock(text));
    if (part.kind === "tool-call") {
      const firstLine = text.split("\n", 1)[0].slice(0, 120);
      return h("details", { class: "tool-call" }, h("summary", {}, h("span", { class: "badge", text: "call" }), (part.tool || "tool") + " ", h("code", { text: firstLine })), plain(text));
    }
    if (part.kind === "tool-result") {
      return h(
        "details",
        { class: "tool-result" },
        h("summary", {}, h("span", { class: "badge" + (part.is_error ? " bad" : " ok"), text: part.is_error ? "error" : "ok" }), (part.tool ? part.tool + " " : "") + "result, " + fmt(text.length) + " characters"),
        plain(text),
      );
    }
    return h("details", { class: "part-" + part.kind }, h("summary", { text: part.kind }), plain(text));
  }

  function plain(text) {
    // Scrollable blocks take the focus, so a keyboard can scroll them.
    if (text.length <= SHOWN_LIMIT) return h("pre", { tabindex: 0 }, h("code", { text }));
    const pre = h("pre", { tabindex: 0 }, h("code", { text: text.slice(0, SHOWN_LIMIT) }));
    const more = h("button", { type: "button", onclick: () => { pre.firstChild.textContent = text; more.remove(); } }, "Show all " + fmt(text.length) + " characters");
    return h("div", {}, pre, more);
  }

  function textBlock(text) {
    if (text.length > MARKDOWN_LIMIT) return h("div", {}, h("p", { class: "long", text: "A long message (" + fmt(text.length) + " characters), shown as plain text." }), plain(text));
    return markdown(text);
  }

  // ---- markdown, built as elements ---------------------------------------

  function markdown(src) {
    const root = h("div", { class: "md" });
    const lines = src.replace(/\r\n?/g, "\n").split("\n");
    let i = 0;
    let para = [];
    const flush = () => {
      if (para.length) root.append(h("p", {}, inline(para.join("\n"))));
      para = [];
    };
    while (i < lines.length) {
      const line = lines[i];
      const fence = line.match(/^\s*(```+|~~~+)\s*([\w+#.-]*)/);
      if (fence) {
        flush();
        const body = [];
        i++;
        while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
        i++;
        root.append(h("pre", { tabindex: 0 }, h("code", { class: fence[2] ? "lang-" + fence[2].toLowerCase() : null }, highlight(body.join("\n"), fence[2]))));
        continue;
      }
      const heading = line.match(/^(#{1,6})\s+(.*)$/);
      if (heading) {
        flush();
        // Headings inside a message never outrank the page's own.
        root.append(h("h" + Math.min(6, heading[1].length + 2), {}, inline(heading[2])));
        i++;
        continue;
      }
      if (/^\s*>/.test(line)) {
        flush();
        const quote = [];
        while (i < lines.length && /^\s*>/.test(lines[i])) quote.push(lines[i++].replace(/^\s*>\s?/, ""));
        root.append(h("blockquote", {}, inline(quote.join("\n"))));
        continue;
      }
      const item = line.match(/^\s*([-*+]|\d+[.)])\s+(.*)$/);
      if (item) {
        flush();
        const ordered = /\d/.test(item[1]);
        const list = h(ordered ? "ol" : "ul", {});
        while (i < lines.length) {
          const m = lines[i].match(/^\s*([-*+]|\d+[.)])\s+(.*)$/);
          if (!m) break;
          list.append(h("li", {}, inline(m[2])));
          i++;
        }
        root.append(list);
        continue;
      }
      if (!line.trim()) {
        flush();
        i++;
        continue;
      }
      para.push(line);
      i++;
    }
    flush();
    return root;
  }

  // Inline code, bold, emphasis and links. A link is clickable only when it
  // leads to an http(s) page; an image is shown as its description and
  // address, never fetched.
  function inline(text) {
    const out = [];
    const pattern = /(`+)([\s\S]*?)\1|!\[([^\]]*)\]\(([^)\s]*)[^)]*\)|\[([^\]]+)\]\(([^)\s]*)[^)]*\)|\*\*([^*]+)\*\*|(?:^|(?<=\W))_([^_]+)_(?=\W|$)|\*([^*\s][^*]*)\*/g;
    let at = 0;
    for (const m of text.matchAll(pattern)) {
      out.push(text.slice(at, m.index));
      if (m[1]) out.push(h("code", { text: m[2] }));
      else if (m[4] !== undefined && m[0].startsWith("!")) out.push(h("span", { class: "badge", text: "image: " + (m[3] || "untitled") }), " " + m[4]);
      else if (m[5] !== undefined) out.push(safeLink(m[5], m[6]));
      else if (m[7] !== undefined) out.push(h("strong", { text: m[7] }));
      else if (m[8] !== undefined) out.push(h("em", { text: m[8] }));
      else if (m[9] !== undefined) out.push(h("em", { text: m[9] }));
      at = m.index + m[0].length;
    }
    out.push(text.slice(at));
    return out;
  }

  function safeLink(label, href) {
    let url = null;
    try {
      url = new URL(href);
    } catch (_) {
      url = null;
    }
    if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) return "[" + label + "](" + href + ")";
    return h("a", { href: url.href, rel: "noopener noreferrer nofollow", target: "_blank" }, label);
  }

  const KEYWORDS = new Set(
    "fn let mut pub struct enum impl trait use mod match if else for while loop return break continue async await const static type where self Self true false None Some Ok Err def class import from as with try except finally raise lambda yield function var new this null undefined export default interface package func go defer select case switch chan map range public private protected void int bool string echo then fi do done".split(
      " ",
    ),
  );

  // Keywords, strings, comments and numbers: enough to read code at a glance.
  function highlight(code, lang) {
    if (code.length > 50000) return [code];
    const hashComments = /^(sh|bash|zsh|shell|py|python|rb|ruby|toml|yaml|yml|console)$/i.test(lang || "");
    const pattern = hashComments
      ? /(#[^\n]*)|("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|\b(\d+(?:\.\d+)?)\b|\b([A-Za-z_]\w*)\b/g
      : /(\/\/[^\n]*|\/\*[\s\S]*?\*\/)|("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`[^`]*`)|\b(\d+(?:\.\d+)?)\b|\b([A-Za-z_]\w*)\b/g;
    const out = [];
    let at = 0;
    for (const m of code.matchAll(pattern)) {
      if (m[4] && !KEYWORDS.has(m[4])) continue;
      out.push(code.slice(at, m.index));
      const cls = m[1] ? "tok-c" : m[2] ? "tok-s" : m[3] ? "tok-n" : "tok-k";
      out.push(h("span", { class: cls, text: m[0] }));
      at = m.index + m[0].length;
    }
    out.push(code.slice(at));
    return out;
  }

  // ---- the fleet ---------------------------------------------------------

  async function fleetPage() {
    document.title = "Fleet · pond";
    const live = h("p", { class: "live", id: "live", "aria-live": "polite", text: "connecting…" });
    const body = h("div", { id: "fleet" });
    append(main, [h("h1", { text: "Fleet" }), live, body]);
    const refresh = async () => {
      try {
        const [status, runs] = await Promise.all([api("/v1/status"), api("/v1/runs?days=" + RUN_DAYS)]);
        paintFleet(body, status, runs);
        live.textContent = "live · updated " + new Date().toISOString().slice(11, 19) + " UTC";
        document.body.dataset.fleetUpdated = String(Date.now());
        markPainted("pond-fleet-painted");
      } catch (e) {
        clear(body);
        showError(body, e);
      }
    };
    await refresh();
    const events = new EventSource("/v1/events");
    let first = true;
    events.addEventListener("fleet", () => {
      // The first event tells where the fleet stood when the stream opened.
      if (first) {
        first = false;
        return;
      }
      refresh();
    });
    events.onerror = () => {
      live.textContent = "reconnecting…";
    };
    leaving = () => events.close();
  }

  const RUN_DAYS = 14;
  const OUTCOMES = [
    ["ok", "#66a182"],
    ["partial", "#edae49"],
    ["failed", "#d1495b"],
    ["skipped", "#8d96a0"],
  ];

  function paintFleet(body, status, runs) {
    clear(body);
    const staleAfter = (status.stale_after_secs || 86400) * 1000;
    const now = Date.now();
    const stale = (h_) => !h_.last_success || now - new Date(h_.last_success).getTime() > staleAfter;
    const staleCount = status.hosts.filter(stale).length;
    append(body, [
      h(
        "div",
        { class: "cards" },
        card("Hosts", fmt(status.hosts.length)),
        card("Stale", fmt(staleCount)),
        card("Sessions", fmt(status.sessions)),
        card("Messages", fmt(status.messages)),
      ),
      h("h2", { text: "Runs over the last " + RUN_DAYS + " days" }),
      runsChart(runs),
      h("h2", { text: "Hosts" }),
      h("p", { class: "note", text: "A host is stale without a successful sync in " + Math.round(staleAfter / 3600000) + " h." }),
    ]);
    const rows = [...status.hosts].sort((a, b) => Number(stale(b)) - Number(stale(a)) || a.host.localeCompare(b.host));
    body.append(
      h(
        "table",
        { id: "hosts" },
        h("thead", {}, h("tr", {}, ["Host", "State", "Last run", "Last success", "Outcome", "Failures in a row", "Runs", "Last run took", "Error"].map((t) => h("th", { scope: "col", text: t })))),
        h(
          "tbody",
          {},
          rows.map((x) =>
            h(
              "tr",
              { class: stale(x) ? "stale" : x.consecutive_failures ? "failing" : null, "data-host": x.host },
              h("td", { text: x.host }),
              h("td", {}, h("span", { class: "badge " + (stale(x) ? "warn" : "ok"), text: stale(x) ? "stale" : "fresh" })),
              h("td", { title: when(x.last_run), text: ago(x.last_run) }),
              h("td", { title: when(x.last_success), text: ago(x.last_success) }),
              h("td", { text: x.outcome }),
              h("td", { class: "num", text: fmt(x.consecutive_failures) }),
              h("td", { class: "num", text: fmt(x.runs) + (x.failures ? " (" + fmt(x.failures) + " failed)" : "") }),
              h("td", { class: "num", text: x.duration_secs ? x.duration_secs.toFixed(1) + " s" : "–" }),
              h("td", { text: x.error || "" }),
            ),
          ),
        ),
      ),
      h("h2", { text: "Sessions per client" }),
      barChart(
        status.clients.map((c) => [c.client, c.sessions]),
        "sessions",
      ),
    );
    if (status.store_health && status.store_health.length) {
      body.append(
        h("h2", { text: "Store health" }),
        h(
          "table",
          { id: "health" },
          h("thead", {}, h("tr", {}, ["Table", "Rows", "Fragments", "Versions", "Unindexed rows"].map((t) => h("th", { scope: "col", text: t })))),
          h("tbody", {}, status.store_health.map((t) => h("tr", {}, h("td", { text: t.table }), h("td", { class: "num", text: fmt(t.rows) }), h("td", { class: "num", text: fmt(t.fragments) }), h("td", { class: "num", text: fmt(t.versions) }), h("td", { class: "num", text: fmt(t.unindexed_rows) })))),
        ),
      );
    }
  }

  // Runs per day, stacked by outcome, with the number of hosts that ran.
  function runsChart(runs) {
    const days = runs.buckets;
    if (!days.some((d) => d.ok + d.partial + d.failed + d.skipped)) {
      return h("p", { class: "note", id: "no-runs", text: "No runs in this period." });
    }
    const total = (d) => d.ok + d.partial + d.failed + d.skipped;
    const max = Math.max(1, ...days.map(total));
    const width = 760;
    const height = 160;
    const left = 50;
    const bar = (width - left - 10) / days.length;
    const chart = svg("svg", { class: "chart", id: "runs-chart", viewBox: "0 0 " + width + " " + (height + 30), role: "img", "aria-label": "Runs per day by outcome" });
    chart.append(svg("text", { x: 4, y: 14 }, fmt(max)), svg("text", { x: 4, y: height }, "0"));
    days.forEach((d, i) => {
      let y = height;
      for (const [outcome, colour] of OUTCOMES) {
        const bh = (height - 10) * (d[outcome] / max);
        if (!bh) continue;
        y -= bh;
        const rect = svg("rect", { x: left + i * bar + 1, y, width: Math.max(1, bar - 2), height: bh, fill: colour, "data-outcome": outcome });
        rect.append(svg("title", {}, d.start.slice(0, 10) + " · " + fmt(d[outcome]) + " " + outcome + " · " + fmt(d.hosts) + (d.hosts === 1 ? " host ran" : " hosts ran")));
        chart.append(rect);
      }
      if (i % Math.ceil(days.length / 7) === 0) chart.append(svg("text", { x: left + i * bar, y: height + 20 }, d.start.slice(5, 10)));
    });
    const legend = h("div", { class: "legend" });
    for (const [outcome, colour] of OUTCOMES) {
      const item = h("span", { text: outcome });
      item.style.setProperty("--swatch", colour);
      legend.append(item);
    }
    const latest = days[days.length - 1];
    legend.append(h("span", { class: "note", text: "today: " + fmt(latest.hosts) + (latest.hosts === 1 ? " host ran" : " hosts ran") }));
    return h("div", {}, chart, legend);
  }

  function card(label, value) {
    return h("div", { class: "card" }, h("div", { class: "value", text: value }), h("div", { class: "label", text: label }));
  }

  // Horizontal bars, one per [label, value].
  function barChart(pairs, unit) {
    const width = 640;
    const row = 22;
    const max = Math.max(1, ...pairs.map((p) => p[1]));
    const chart = svg("svg", { class: "chart", viewBox: "0 0 " + width + " " + (pairs.length * row + 10), role: "img", "aria-label": unit + " per client" });
    pairs.forEach(([label, value], i) => {
      const y = 5 + i * row;
      chart.append(
        svg("text", { x: 4, y: y + 15 }, label),
        svg("rect", { x: 150, y: y + 3, width: Math.max(1, ((width - 260) * value) / max), height: row - 8, fill: "#1f6f8b" }),
        svg("text", { x: 154 + ((width - 260) * value) / max, y: y + 15 }, fmt(value)),
      );
    });
    return chart;
  }

  // ---- spend -------------------------------------------------------------

  const PALETTE = ["#1f6f8b", "#d1495b", "#edae49", "#66a182", "#6c4f9e", "#2e4057", "#c26d2e", "#8d96a0"];

  async function spendPage() {
    document.title = "Spend · pond";
    const params = new URLSearchParams(location.search);
    const since = h("input", { id: "spend-since", type: "text", value: params.get("since") || "30d", autocomplete: "off" });
    const body = h("div", { id: "spend" });
    const form = h(
      "form",
      {
        class: "filters",
        onsubmit: (e) => {
          e.preventDefault();
          history.replaceState(null, "", "/spend?since=" + encodeURIComponent(since.value.trim()));
          load();
        },
      },
      h("label", { for: "spend-since" }, "Since", since),
      h("button", { type: "submit" }, "Show"),
    );
    append(main, [h("h1", { text: "Spend" }), form, body]);
    const load = async () => {
      clear(body);
      const q = since.value.trim() ? "&since=" + encodeURIComponent(since.value.trim()) : "";
      try {
        const [byDay, byModel, byHost, byProject] = await Promise.all(
          ["day,model", "model", "host", "project"].map((by) => api("/v1/usage?by=" + by + q)),
        );
        paintSpend(body, byDay, byModel, byHost, byProject);
      } catch (e) {
        showError(body, e);
      }
    };
    await load();
  }

  function paintSpend(body, byDay, byModel, byHost, byProject) {
    const t = byModel.totals;
    const cacheable = t.input_tokens + t.cache_read_tokens + t.cache_write_tokens;
    append(body, [
      h(
        "div",
        { class: "cards" },
        card("Cost", usd(t.cost_usd)),
        card("Model calls", fmt(t.calls)),
        card("Output tokens", fmt(t.output_tokens)),
        card("Cache hit ratio", cacheable ? Math.round((100 * t.cache_read_tokens) / cacheable) + " %" : "–"),
      ),
      byModel.unpriced_models.length ? h("p", { class: "notice", text: "No price for: " + byModel.unpriced_models.join(", ") + " (their tokens are counted, their cost is not)." }) : null,
      h("h2", { text: "Cost per day by model" }),
      dayChart(byDay.rows),
      usageTable("By model", "model", byModel.rows),
      usageTable("By host", "host", byHost.rows),
      usageTable("Top projects", "project", [...byProject.rows].sort((a, b) => (b.cost_usd || 0) - (a.cost_usd || 0)).slice(0, 20)),
    ]);
  }

  function dayChart(rows) {
    if (!rows.length) return h("p", { class: "note", id: "no-usage", text: "No model calls in this period." });
    const days = [...new Set(rows.map((r) => r.day))].sort();
    const models = [...new Set(rows.map((r) => r.model))];
    const totals = new Map(days.map((d) => [d, 0]));
    for (const r of rows) totals.set(r.day, totals.get(r.day) + (r.cost_usd || 0));
    const max = Math.max(0.01, ...totals.values());
    const width = 760;
    const height = 240;
    const left = 50;
    const bar = (width - left - 10) / days.length;
    const chart = svg("svg", { class: "chart", id: "day-chart", viewBox: "0 0 " + width + " " + (height + 30), role: "img", "aria-label": "Cost per day by model" });
    chart.append(svg("text", { x: 4, y: 14 }, usd(max)), svg("text", { x: 4, y: height }, "$0"));
    const base = new Map(days.map((d) => [d, 0]));
    for (const r of rows) {
      const i = days.indexOf(r.day);
      const value = r.cost_usd || 0;
      const y0 = base.get(r.day);
      const bh = (height - 10) * (value / max);
      base.set(r.day, y0 + bh);
      const rect = svg("rect", { x: left + i * bar + 1, y: height - y0 - bh, width: Math.max(1, bar - 2), height: bh, fill: PALETTE[models.indexOf(r.model) % PALETTE.length] });
      rect.append(svg("title", {}, r.day + " · " + r.model + " · " + usd(r.cost_usd)));
      chart.append(rect);
    }
    const step = Math.ceil(days.length / 8);
    days.forEach((d, i) => {
      if (i % step === 0) chart.append(svg("text", { x: left + i * bar, y: height + 20 }, d.slice(5)));
    });
    const legend = h("div", { class: "legend" });
    models.forEach((m, i) => {
      const item = h("span", { text: m });
      item.style.setProperty("--swatch", PALETTE[i % PALETTE.length]);
      legend.append(item);
    });
    return h("div", {}, chart, legend);
  }

  function usageTable(title, key, rows) {
    return h(
      "section",
      {},
      h("h2", { text: title }),
      h(
        "table",
        { class: "usage", "data-by": key },
        h("thead", {}, h("tr", {}, [key, "Calls", "Input", "Output", "Cache writes", "Cache reads", "Cost"].map((t, i) => h("th", { scope: "col", class: i ? "num" : null, text: t })))),
        h(
          "tbody",
          {},
          rows.map((r) =>
            h(
              "tr",
              {},
              h("td", { text: r[key] || "–" }),
              h("td", { class: "num", text: fmt(r.calls) }),
              h("td", { class: "num", text: fmt(r.input_tokens) }),
              h("td", { class: "num", text: fmt(r.output_tokens) }),
              h("td", { class: "num", text: fmt(r.cache_write_tokens) }),
              h("td", { class: "num", text: fmt(r.cache_read_tokens) }),
              h("td", { class: "num", text: usd(r.cost_usd) }),
            ),
          ),
        ),
      ),
    );
  }

  render();
})();
