// pond's pages: search, a session's transcript, the fleet and its spend.
//
// Everything shown comes from the JSON API under /v1 and is put on the page
// as text nodes: no answer is ever parsed as HTML, so a session that holds
// markup, scripts or links stays inert. Markdown is rendered by building
// elements, and only links to http(s) pages are made clickable; images a
// message links to elsewhere are never loaded (they would reach other
// hosts), while images the session stored come from this server.
//
// This module is the entry: it routes between the pages and signs in and out.

import { ApiError, api, append, clear, go, h, main, onNavigate, showError, state, who } from "./core.js";
import { fleetPage } from "./fleet.js";
import { searchPage } from "./search.js";
import { focusMessage, sessionPage } from "./session.js";
import { spendPage } from "./spend.js";

// ---- routing -----------------------------------------------------------

onNavigate(() => render());

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
  state.leaving();
  state.leaving = () => {};
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
  // A stats token reads totals only: the fleet and spend pages.
  if (state.me && state.me.scope === "stats" && (page === "search" || page === "session")) return go("/fleet", true);
  if (page === "session") return sessionPage(decodeURIComponent(path.slice("/session/".length)));
  if (page === "fleet") return fleetPage();
  if (page === "spend") return spendPage();
  if (page === "signin") return signInPage();
  return searchPage();
}

async function loadMe() {
  try {
    state.me = await api("/v1/me");
  } catch (e) {
    state.me = null;
    if (e instanceof ApiError && e.status === 401) return false;
    showError(main, e);
    return false;
  }
  clear(who);
  for (const a of document.querySelectorAll('header nav a[data-page="search"]')) a.hidden = state.me.scope === "stats";
  const limits = [state.me.project_prefix && "project " + state.me.project_prefix, state.me.host_prefix && "hosts " + state.me.host_prefix]
    .filter(Boolean)
    .join(", ");
  append(who, [
    h("span", { text: state.me.tokens_required ? "signed in as " + state.me.name : "local access" }),
    limits ? h("span", { class: "badge", text: limits }) : null,
    state.me.tokens_required ? h("button", { type: "button", id: "signout", onclick: signOut }, "Sign out") : null,
  ]);
  return true;
}

async function signOut() {
  await api("/web/signout", { method: "POST" });
  state.me = null;
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

render();
