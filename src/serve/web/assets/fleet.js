// The fleet page: every host's last sync and staleness, runs over time,
// sessions per client and the store's health, live over server-sent events.

import { ago, api, append, clear, fmt, h, main, markPainted, showError, state, svg, when } from "./core.js";

// ---- the fleet ---------------------------------------------------------

export async function fleetPage() {
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
  state.leaving = () => events.close();
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

export function card(label, value) {
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
