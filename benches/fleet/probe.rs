//! `FLEET_PROBE_STORE=DIR`: timings of a store that already exists (or is
//! built straight through the store), without running a fleet. Apart from
//! the fleet's rounds because it shares none of their state.

use super::*;

/// `FLEET_PROBE_STORE=DIR`: times `get_message` (and a session's page) on
/// an existing store, such as the million-message one `make bench-search`
/// keeps, without running a fleet: before and after `pond maintain` shows
/// what the key indexes buy at that scale.
///
/// With `FLEET_PROBE_BUILD=N` and no store at DIR yet, first builds one of
/// N messages (200 per session) straight through the store, with no
/// sources to parse: the shape a million-message archive has, in minutes.
pub(super) fn probe(store_dir: &str) {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let location = pond::store::StoreLocation::parse(store_dir).expect("store location");
    if let Some(n) = std::env::var("FLEET_PROBE_BUILD")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        && !Path::new(store_dir).join("messages.lance").exists()
    {
        build_probe_store(&rt, &location, n);
    }
    let store = rt
        .block_on(Store::open(&location, pond::store::OpenMode::Existing))
        .expect("open store");
    let rows = rt
        .block_on(store.count(pond::store::TableKind::Messages, None))
        .expect("count");
    // Ids spread over the table: its start, middle and end.
    let mut ids = Vec::new();
    for offset in [0, rows / 2, rows.saturating_sub(1)] {
        let batches = rt
            .block_on(store.scan_page(pond::store::TableKind::Messages, &["id"], offset, 1))
            .expect("read an id");
        for b in &batches {
            let c = pond::store::tables::schema::Columns::new(b);
            ids.extend(
                c.str("id")
                    .expect("id")
                    .iter()
                    .flatten()
                    .map(str::to_string),
            );
        }
    }
    println!("probe: {store_dir}, {rows} messages");
    println!("| message | get_message p50 ms | p95 ms |\n|---|---:|---:|");
    for id in &ids {
        match time_get_message(&rt, &store, id) {
            Some(p) => println!("| {id} | {:.1} | {:.1} |", p.p50, p.p95),
            None => println!("| {id} | failed | |"),
        }
    }
    if std::env::var_os("FLEET_PROBE_ERASE").is_some() {
        probe_erase(store_dir, rows);
    }
}

/// `FLEET_PROBE_ERASE=1`: upkeep of the whole store (every fragment
/// rewritten: a full compaction), then `pond erase --now` of one session,
/// then of another, each timed with its core-seconds.
fn probe_erase(store_dir: &str, rows: usize) {
    let home = tempfile::tempdir().expect("temp home");
    let run = |args: &[&str]| -> (f64, f64, Value) {
        let cores = children_core_secs();
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_pond"))
            .args(args)
            .env("POND_STORE", store_dir)
            .env("POND_EMBED_MODEL", "off")
            .env("POND_HOST", "probe")
            .env("HOME", home.path())
            .env("XDG_STATE_HOME", home.path().join("state"))
            .output()
            .expect("run pond");
        let wall = started.elapsed().as_secs_f64();
        if !out.status.success() {
            panic!("pond {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (wall, children_core_secs() - cores, report)
    };
    println!("| step | wall s | core-s | fragments rewritten |\n|---|---:|---:|---:|");
    let (wall, cores, report) = run(&["maintain", "--retain", "0s", "--json"]);
    let rewritten: u64 = report["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["compacted"]["fragments_removed"].as_u64())
        .sum();
    println!(
        "| upkeep: full compaction of {rows} messages | {wall:.1} | {cores:.1} | {rewritten} |"
    );
    let sessions = rows / 200;
    for s in [sessions / 2, sessions / 3] {
        let id = format!("claude-code:{}", uuid(1, s % 20, s as u64));
        let (wall, cores, report) = run(&["erase", &id, "--now", "--yes", "--json"]);
        let rewritten: u64 = report["purge"]["tables"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["compacted"]["fragments_removed"].as_u64())
            .sum();
        let per_table: Vec<String> = report["purge"]["tables"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                format!(
                    "{} {:.1}s",
                    t["table"].as_str().unwrap_or("?"),
                    t["secs"].as_f64().unwrap_or(0.0)
                )
            })
            .collect();
        println!(
            "| erase --now of one session ({} messages; {}) | {wall:.1} | {cores:.1} | {rewritten} |",
            report["deleted"]["messages"],
            per_table.join(", ")
        );
    }
}
