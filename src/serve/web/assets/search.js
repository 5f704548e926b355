// The search page: one box, every filter of `pond search`, results as you
// type, grouped by session, with the query and filters in the URL.

import { api, append, clear, fmt, go, h, main, markPainted, navLink, sessionHref, showError, state, when } from "./core.js";

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

export async function searchPage() {
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
  state.leaving = () => clearTimeout(timer);

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
          h("span", { class: "found-by", text: "found by " + FOUND_BY[hit.found_by] }),
          h("div", { class: "snippet" }, highlighted(hit.snippet, hit.highlights)),
        ),
      );
    }
    results.append(group);
  }
}

// Which arm of the search found a hit, in the reader's words.
const FOUND_BY = { words: "its words", meaning: "its meaning", both: "words and meaning" };

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
