// The spend page: tokens and cost by day, model, host and project.

import { api, append, clear, fmt, h, main, showError, svg, usd } from "./core.js";
import { card } from "./fleet.js";

// ---- spend -------------------------------------------------------------

const PALETTE = ["#1f6f8b", "#d1495b", "#edae49", "#66a182", "#6c4f9e", "#2e4057", "#c26d2e", "#8d96a0"];

export async function spendPage() {
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
