// Markdown built as elements, and code highlighted as text spans: no
// string from a session ever becomes HTML.

import { h } from "./core.js";

// ---- markdown, built as elements ---------------------------------------

export function markdown(src) {
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
