// The spend page: tokens and cost by day, model, host and project.

import { api, append, clear, fmt, h, legend, main, showError, stackedBars, usd } from "./core.js";
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
  const chart = stackedBars({
    id: "day-chart",
    label: "Cost per day by model",
    height: 240,
    max,
    top: usd(max),
    bottom: "$0",
    ticks: 8,
    columns: days.map((d) => ({
      label: d.slice(5),
      segments: rows
        .filter((r) => r.day === d)
        .map((r) => ({
          value: r.cost_usd || 0,
          colour: PALETTE[models.indexOf(r.model) % PALETTE.length],
          title: r.day + " · " + r.model + " · " + usd(r.cost_usd),
        })),
    })),
  });
  const key = legend(models.map((m, i) => [m, PALETTE[i % PALETTE.length]]));
  return h("div", {}, chart, key);
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
