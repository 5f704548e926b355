// A session's transcript, paged, opened at a message when the URL names one.

import { api, append, clear, fmt, h, main, markPainted, navLink, sessionHref, showError, state, when } from "./core.js";
import { markdown } from "./markdown.js";
import { shareAction } from "./share.js";

// ---- a session ---------------------------------------------------------

const PAGE = 100;
// Longer messages are shown as plain text, and cut, until asked for.
const MARKDOWN_LIMIT = 100000;
const SHOWN_LIMIT = 200000;

export async function sessionPage(sessionId) {
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
      state.me && state.me.redact ? h("span", { class: "badge", text: "secrets masked" }) : null,
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
      state.me && state.me.may_share ? shareAction(s) : null,
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

export function focusMessage(id) {
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
