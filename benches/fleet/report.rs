//! The checkpoint rows the bench prints (and writes as JSON lines), and
//! the comparison with the same sessions ingested once.

use super::*;

/// With `FLEET_PUSH`: what a window's pushes sent against the session
/// files they came from (a push that sent whole files would send at least
/// the largest).
pub(super) fn print_pushes(round: usize, pushed: &[(f64, f64)]) {
    let (Some(sent), Some(largest)) = (
        pct(pushed.iter().map(|p| p.0).collect()),
        pct(pushed.iter().map(|p| p.1).collect()),
    ) else {
        return;
    };
    let total: f64 = pushed.iter().map(|p| p.0).sum();
    eprintln!(
        "round {round}: {} pushes sent p50 {:.0} B / p95 {:.0} B ({:.1} KB in all); largest session file p50 {:.1} KB",
        pushed.len(),
        sent.p50,
        sent.p95,
        total / 1e3,
        largest.p50 / 1e3
    );
}

pub(super) struct Measures {
    pub(super) tables: Vec<TableHealth>,
    pub(super) disk: Option<(u64, u64)>,
    pub(super) fts: Option<Pct>,
    pub(super) hybrid: Option<Pct>,
    pub(super) get_message: Option<Pct>,
    pub(super) status: Option<Pct>,
}

/// Sync timings since the last checkpoint.
#[derive(Default)]
pub(super) struct Window {
    pub(super) small: Vec<f64>,
    pub(super) noop: Vec<f64>,
    pub(super) maintain_secs: f64,
    /// Pushes that had something to send: bytes sent, largest session file.
    pub(super) pushed: Vec<(f64, f64)>,
}

#[derive(Default)]
pub(super) struct Totals {
    pub(super) syncs: u64,
    pub(super) commits: u64,
    pub(super) retries: u64,
    pub(super) failed: u64,
    pub(super) upkeep_runs: u64,
}

impl Totals {
    pub(super) fn add(&mut self, run: &SyncRun) {
        self.syncs += 1;
        self.upkeep_runs += u64::from(run.upkept);
        self.commits += run.commits;
        self.retries += run.retries;
        self.failed += u64::from(!run.ok);
    }
}

/// One checkpoint (or the fresh ingest): a markdown row and a JSON line.
#[derive(serde::Serialize)]
pub(super) struct Row {
    pub(super) kind: &'static str,
    pub(super) round: usize,
    pub(super) syncs: u64,
    pub(super) commits: u64,
    pub(super) commit_retries: u64,
    pub(super) failed_syncs: u64,
    /// Syncs that ran upkeep themselves (`auto`).
    pub(super) upkeep_runs: u64,
    pub(super) files: Option<u64>,
    pub(super) bytes: Option<u64>,
    /// messages, raw_records, search.
    pub(super) fragments: [u64; 3],
    pub(super) versions: [u64; 3],
    pub(super) fragments_all: u64,
    pub(super) versions_all: u64,
    pub(super) manifest_bytes: u64,
    pub(super) unindexed_search_rows: u64,
    pub(super) small_sync_ms: Option<Pct>,
    pub(super) noop_sync_ms: Option<Pct>,
    pub(super) search_fts_ms: Option<Pct>,
    pub(super) search_hybrid_ms: Option<Pct>,
    pub(super) get_message_ms: Option<Pct>,
    pub(super) status_all_hosts_ms: Option<Pct>,
    pub(super) maintain_secs: f64,
    pub(super) wall_secs: f64,
    pub(super) children_core_secs: f64,
    pub(super) tables: Vec<TableHealth>,
}

pub(super) const KEY_TABLES: [&str; 3] = ["messages", "raw_records", "search"];

impl Row {
    pub(super) fn new(
        kind: &'static str,
        round: usize,
        totals: &Totals,
        window: Window,
        m: Measures,
        started: Instant,
    ) -> Row {
        let of = |name: &str| m.tables.iter().find(|t| t.table == name);
        let pick = |f: fn(&TableHealth) -> u64| KEY_TABLES.map(|n| of(n).map_or(0, f));
        Row {
            kind,
            round,
            syncs: totals.syncs,
            commits: totals.commits,
            commit_retries: totals.retries,
            failed_syncs: totals.failed,
            upkeep_runs: totals.upkeep_runs,
            files: m.disk.map(|d| d.0),
            bytes: m.disk.map(|d| d.1),
            fragments: pick(|t| t.fragments),
            versions: pick(|t| t.versions),
            fragments_all: m.tables.iter().map(|t| t.fragments).sum(),
            versions_all: m.tables.iter().map(|t| t.versions).sum(),
            manifest_bytes: m.tables.iter().map(|t| t.manifest_bytes).sum(),
            unindexed_search_rows: of("search").map_or(0, |t| t.unindexed_rows),
            small_sync_ms: pct(window.small),
            noop_sync_ms: pct(window.noop),
            search_fts_ms: m.fts,
            search_hybrid_ms: m.hybrid,
            get_message_ms: m.get_message,
            status_all_hosts_ms: m.status,
            maintain_secs: window.maintain_secs,
            wall_secs: started.elapsed().as_secs_f64(),
            children_core_secs: children_core_secs(),
            tables: m.tables,
        }
    }

    pub(super) fn markdown(&self) -> String {
        let slash = |v: [u64; 3]| format!("{}/{}/{}", v[0], v[1], v[2]);
        let cells = [
            match self.kind {
                "fleet" => self.round.to_string(),
                kind => format!("{} ({kind})", self.round),
            },
            self.syncs.to_string(),
            self.commits.to_string(),
            self.files.map_or("-".into(), |f| f.to_string()),
            self.bytes
                .map_or("-".into(), |b| format!("{:.1}", b as f64 / 1e6)),
            slash(self.fragments),
            slash(self.versions),
            format!("{:.1}", self.manifest_bytes as f64 / 1e3),
            self.unindexed_search_rows.to_string(),
            show(self.small_sync_ms),
            show(self.noop_sync_ms),
            show(self.search_fts_ms),
            show(self.search_hybrid_ms),
            show(self.get_message_ms),
            show(self.status_all_hosts_ms),
        ];
        format!("| {} |", cells.join(" | "))
    }
}

pub(super) fn show(p: Option<Pct>) -> String {
    p.map_or("-".into(), |p| format!("{:.0}/{:.0}", p.p50, p.p95))
}

pub(super) const HEADER: &str = "| round | syncs | commits | files | MB on disk | fragments m/r/s | versions m/r/s | manifest KB | unindexed search rows | small sync ms p50/p95 | no-op sync ms p50/p95 | search fts ms | search hybrid ms | get_message ms | status --all-hosts ms |\n|---:|---:|---:|---:|---:|---|---|---:|---:|---|---|---|---|---|---|";

pub(super) fn write_json(out: &mut Option<std::fs::File>, row: &Row) {
    if let Some(file) = out {
        let line = serde_json::to_string(row).expect("serialise row");
        writeln!(file, "{line}").expect("write FLEET_OUT");
    }
}

pub(super) fn print_settings(s: &Settings, store: &str) {
    println!(
        "fleet bench: {} hosts × {} rounds into one store",
        s.hosts, s.rounds
    );
    println!(
        "  store {store}, checkpoint every {} rounds, {} syncs at once, upkeep {:?} (retain {}), model {}",
        s.checkpoint_every,
        s.parallel,
        s.upkeep,
        s.retain,
        if s.model_on { "default" } else { "off" },
    );
    println!("  times in ms (p50/p95); m/r/s = messages/raw_records/search\n");
}

/// Reads one measure of a checkpoint row.
pub(super) type Measure = fn(&Row) -> Option<f64>;

pub(super) fn print_comparison(
    last: &Row,
    fresh: &Row,
    first_small: Option<Pct>,
    last_small: Option<Pct>,
) {
    let measures: [(&str, Measure); 6] = [
        ("files on disk", |r| r.files.map(|f| f as f64)),
        ("MB on disk", |r| r.bytes.map(|b| b as f64 / 1e6)),
        ("data fragments (all tables)", |r| {
            Some(r.fragments_all as f64)
        }),
        ("versions (all tables)", |r| Some(r.versions_all as f64)),
        ("search fts p50 ms", |r| r.search_fts_ms.map(|p| p.p50)),
        ("search hybrid p50 ms", |r| {
            r.search_hybrid_ms.map(|p| p.p50)
        }),
    ];
    println!("\nfinal store vs a fresh ingest of the same sessions:\n");
    println!("| measure | final | fresh | final/fresh |\n|---|---:|---:|---:|");
    for (label, f) in measures {
        ratio_row(label, f(last), f(fresh));
    }
    // Not against the fresh store: the last window's small syncs against round 1's.
    let small = |p: Option<Pct>| p.map(|p| p.p50);
    let label = "small sync p50 ms: last window / round 1";
    ratio_row(label, small(last_small), small(first_small));
}

pub(super) fn ratio_row(label: &str, a: Option<f64>, b: Option<f64>) {
    let cell = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}"));
    let ratio = match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".into(),
    };
    println!("| {label} | {} | {} | {ratio} |", cell(a), cell(b));
}
