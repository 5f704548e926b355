// What every page shares: building elements (never from HTML strings),
// formatting numbers and times, calling the JSON API, and the state of the
// signed-in caller and of the page being left.


// The caller /v1/me describes, and what the page being shown must undo when
// another replaces it (timers, event streams).
export const state = { me: null, leaving: () => {} };

// Moving between pages without a reload. The entry module (app.js) says how
// to draw the page for the new address; the pages only ask to go there, so
// no page imports the entry.
let draw = () => {};

export function onNavigate(drawPage) {
  draw = drawPage;
}

export function go(href, replace) {
  if (replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  draw();
}

export const main = document.getElementById("main");
export const who = document.getElementById("who");

// ---- DOM helpers -------------------------------------------------------

export function h(tag, attrs, ...children) {
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

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function svg(tag, attrs, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

// Vertical bars, one per column, each a stack of segments from the bottom
// ({value, colour, title, attrs}), scaled to `max`; every few columns
// labelled underneath. The day charts of the fleet and spend pages.
export function stackedBars({ id, label, height, max, top, bottom, ticks, columns }) {
  const width = 760;
  const left = 50;
  const bar = (width - left - 10) / columns.length;
  const chart = svg("svg", { class: "chart", id, viewBox: "0 0 " + width + " " + (height + 30), role: "img", "aria-label": label });
  chart.append(svg("text", { x: 4, y: 14 }, top), svg("text", { x: 4, y: height }, bottom));
  const step = Math.ceil(columns.length / ticks);
  columns.forEach((column, i) => {
    let y = height;
    for (const segment of column.segments) {
      const bh = (height - 10) * (segment.value / max);
      if (!bh) continue;
      y -= bh;
      const rect = svg("rect", Object.assign({ x: left + i * bar + 1, y, width: Math.max(1, bar - 2), height: bh, fill: segment.colour }, segment.attrs || {}));
      rect.append(svg("title", {}, segment.title));
      chart.append(rect);
    }
    if (i % step === 0) chart.append(svg("text", { x: left + i * bar, y: height + 20 }, column.label));
  });
  return chart;
}

// A chart's key: a swatch and a name per [name, colour].
export function legend(entries) {
  const key = h("div", { class: "legend" });
  for (const [name, colour] of entries) {
    const item = h("span", { text: name });
    item.style.setProperty("--swatch", colour);
    key.append(item);
  }
  return key;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// A link inside the app: followed without reloading the page.
export function navLink(href, attrs, ...children) {
  return h("a", Object.assign({ href, "data-nav": true }, attrs || {}), ...children);
}

export function sessionHref(sessionId, messageId) {
  const path = "/session/" + encodeURIComponent(sessionId);
  return messageId ? path + "#m-" + encodeURIComponent(messageId) : path;
}

const numberFormat = new Intl.NumberFormat("en-US");
// For benches/web.rs: a performance mark once the browser has painted
// what was just put on the page (the task after the next frame).
export const markPainted = (name) => requestAnimationFrame(() => setTimeout(() => performance.mark(name), 0));
export const fmt = (n) => (n === null || n === undefined ? "–" : numberFormat.format(n));
export const usd = (n) => (n === null || n === undefined ? "unpriced" : "$" + n.toFixed(2));

export function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

export function ago(iso) {
  if (!iso) return "never";
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 90) return Math.round(s) + " s ago";
  if (s < 5400) return Math.round(s / 60) + " min ago";
  if (s < 172800) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " days ago";
}

// ---- the API -----------------------------------------------------------

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function api(path, options) {
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

export function showError(where, e) {
  if (e instanceof ApiError && e.status === 401) return;
  append(where, [h("p", { class: "error", role: "alert", text: e.message || String(e) })]);
}
