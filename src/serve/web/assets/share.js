// The session page's "Share" action: a preview of what masking hides, then
// a link that shows this one session to whoever holds it (spec rule 56),
// and the session's live links with a way to revoke each.

import { api, append, clear, h, showError, when } from "./core.js";

export function shareAction(session) {
  const panel = h("section", { id: "share-panel", "aria-label": "Share this session", hidden: true });
  const open = h("button", { type: "button", id: "share", "aria-expanded": "false", "aria-controls": "share-panel" }, "Share…");
  open.addEventListener("click", async () => {
    const opening = panel.hidden;
    panel.hidden = !opening;
    open.setAttribute("aria-expanded", String(opening));
    if (opening) await drawPanel(panel, session);
  });
  return [open, panel];
}

function sharesPath(session) {
  return "/v1/sessions/" + encodeURIComponent(session.id) + "/shares";
}

async function drawPanel(panel, session) {
  clear(panel);
  append(panel, [h("h2", { text: "Share this session" })]);
  let preview;
  try {
    preview = await api(sharesPath(session) + "/preview");
  } catch (e) {
    showError(panel, e);
    return;
  }
  const masked = preview.masked;
  append(panel, [
    h("p", {
      id: "share-preview",
      text: masked
        ? masked + (masked === 1 ? " secret is" : " secrets are") + " masked in what the link shows, like this:"
        : "No secret was found to mask; the link shows the session as stored.",
    }),
    masked ? h("ul", { class: "preview" }, preview.samples.map((s) => h("li", {}, h("code", { text: s })))) : null,
  ]);
  const expires = h(
    "select",
    { id: "share-expires" },
    ["1d", "7d", "30d", "never"].map((v) => h("option", { value: v, text: v === "never" ? "never" : v, selected: v === "7d" })),
  );
  const made = h("div", { "aria-live": "polite" });
  const list = h("div", { id: "share-list" });
  const make = h("button", { type: "button", id: "make-share", class: "primary" }, "Make link");
  make.addEventListener("click", async () => {
    clear(made);
    try {
      const share = await api(sharesPath(session), { method: "POST", json: { expires: expires.value } });
      const link = location.origin + "/s/" + share.id;
      append(made, [h("label", {}, "Link", h("input", { id: "share-link", readonly: true, value: link }))]);
      await drawList(list, session);
    } catch (e) {
      showError(made, e);
    }
  });
  append(panel, [h("div", { class: "actions" }, h("label", {}, "Expires after", expires), make), made, list]);
  await drawList(list, session);
}

async function drawList(list, session) {
  clear(list);
  let shares;
  try {
    shares = await api(sharesPath(session));
  } catch (e) {
    showError(list, e);
    return;
  }
  const live = shares.filter((s) => s.state === "live");
  if (!live.length) {
    append(list, [h("p", { class: "note", text: "No live links to this session." })]);
    return;
  }
  const rows = live.map((s) => {
    const revoke = h("button", { type: "button", class: "revoke-share" }, "Revoke");
    revoke.addEventListener("click", async () => {
      try {
        await api("/v1/shares/" + encodeURIComponent(s.id) + "/revoke", { method: "POST" });
        await drawList(list, session);
      } catch (e) {
        showError(list, e);
      }
    });
    return h(
      "tr",
      {},
      h("td", {}, h("code", { text: "/s/" + s.id.slice(0, 8) + "…" })),
      h("td", { text: s.expires_at ? when(s.expires_at) : "never" }),
      h("td", { class: "num", text: String(s.views) }),
      h("td", { text: s.redact ? "masked" : "as stored" }),
      h("td", {}, revoke),
    );
  });
  append(list, [
    h(
      "table",
      { id: "live-shares" },
      h("caption", { text: "Live links" }),
      h("thead", {}, h("tr", {}, ["Link", "Expires", "Views", "Secrets", ""].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, rows),
    ),
  ]);
}
