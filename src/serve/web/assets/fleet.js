// The fleet page: every host's last sync and staleness, runs over time,
// sessions per client and the store's health, live over server-sent events.

import { ago, api, append, clear, fmt, h, legend, main, markPainted, showError, stackedBars, state, svg, when } from "./core.js";

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
  if (status.search && status.search.parts > 0) body.append(backlogSection(status.search));
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

// The embedding backlog: parts by the model whose vectors they hold, the
// parts no model has embedded yet, and each host's last drain, whose rates
// add up to the fleet's.
function backlogSection(census) {
  const day = 86400000;
  const now = Date.now();
  const recent = census.drains.filter((d) => now - new Date(d.finished_at).getTime() <= day);
  const rate = recent.reduce((sum, d) => sum + (d.secs > 0 ? d.rows / d.secs : 0), 0);
  const waiting = census.without_vectors;
  const eta = rate > 0 && waiting > 0 ? " · about " + fmt(Math.ceil(waiting / rate / 60)) + " min to drain at that rate" : "";
  const section = h("section", { id: "backlog" });
  append(section, [
    h("h2", { text: "Search backlog" }),
    h(
      "div",
      { class: "cards" },
      card("Parts", fmt(census.parts)),
      card("Waiting", fmt(waiting)),
      card("Fleet rate", rate > 0 ? rate.toFixed(1) + "/s" : "–"),
    ),
    h("p", {
      class: "note",
      text:
        (census.by_model.length ? "Embedded: " + census.by_model.map((m) => fmt(m.parts) + " by " + m.model).join(", ") + ". " : "No part has vectors yet. ") +
        "The rate adds up the hosts whose last drain ended within a day" +
        eta +
        ".",
    }),
  ]);
  if (census.drains.length) {
    section.append(
      h(
        "table",
        { id: "drains" },
        h("thead", {}, h("tr", {}, ["Host", "Model", "Parts", "Took", "Rate", "Ended"].map((t) => h("th", { scope: "col", text: t })))),
        h(
          "tbody",
          {},
          census.drains.map((d) =>
            h(
              "tr",
              { "data-host": d.host },
              h("td", { text: d.host }),
              h("td", { text: d.model }),
              h("td", { class: "num", text: fmt(d.rows) }),
              h("td", { class: "num", text: d.secs.toFixed(1) + " s" }),
              h("td", { class: "num", text: d.secs > 0 ? (d.rows / d.secs).toFixed(1) + "/s" : "–" }),
              h("td", { title: when(d.finished_at), text: ago(d.finished_at) }),
            ),
          ),
        ),
      ),
    );
  }
  return section;
}

// Runs per day, stacked by outcome, with the number of hosts that ran.
function runsChart(runs) {
  const days = runs.buckets;
  const total = (d) => d.ok + d.partial + d.failed + d.skipped;
  if (!days.some(total)) return h("p", { class: "note", id: "no-runs", text: "No runs in this period." });
  const max = Math.max(1, ...days.map(total));
  const hostsRan = (n) => fmt(n) + (n === 1 ? " host ran" : " hosts ran");
  const chart = stackedBars({
    id: "runs-chart",
    label: "Runs per day by outcome",
    height: 160,
    max,
    top: fmt(max),
    bottom: "0",
    ticks: 7,
    columns: days.map((d) => ({
      label: d.start.slice(5, 10),
      segments: OUTCOMES.map(([outcome, colour]) => ({
        value: d[outcome],
        colour,
        title: d.start.slice(0, 10) + " · " + fmt(d[outcome]) + " " + outcome + " · " + hostsRan(d.hosts),
        attrs: { "data-outcome": outcome },
      })),
    })),
  });
  const key = legend(OUTCOMES);
  const latest = days[days.length - 1];
  key.append(h("span", { class: "note", text: "today: " + hostsRan(latest.hosts) }));
  return h("div", {}, chart, key);
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
