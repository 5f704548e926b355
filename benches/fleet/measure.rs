//! Timings and sizes: percentiles, the core-seconds of child processes,
//! `get_message` against a store, and what a store holds on disk or in a
//! bucket.

use super::*;

pub(super) fn warn(what: &str, out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or("");
    eprintln!("fleet bench: {what} failed ({}): {last}", out.status);
}

pub(super) fn timed(cmd: &mut Command) -> (f64, Output) {
    let started = Instant::now();
    let out = cmd.output().expect("spawn pond");
    (started.elapsed().as_secs_f64() * 1000.0, out)
}

#[derive(Clone, Copy, serde::Serialize)]
pub(super) struct Pct {
    pub(super) p50: f64,
    pub(super) p95: f64,
}

pub(super) fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub(super) fn pct(mut v: Vec<f64>) -> Option<Pct> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(Pct {
        p50: percentile(&v, 0.5),
        p95: percentile(&v, 0.95),
    })
}

pub(super) fn time_get_message(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    id: &str,
) -> Option<Pct> {
    let view = pond::archive::View::default();
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let params = pond::archive::GetMessageParams {
            id: id.to_string(),
            neighbours: None,
        };
        let started = Instant::now();
        if let Err(e) = rt.block_on(pond::archive::get_message(store, &view, params)) {
            eprintln!("fleet bench: get_message {id}: {e}");
            return None;
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    pct(times)
}

/// (files, bytes) under a local store.
pub(super) fn dir_usage(dir: &Path) -> (u64, u64) {
    pond::store::file_sizes(dir).fold((0, 0), |(n, b), len| (n + 1, b + len))
}

/// (objects, bytes) under a remote store's prefix, from one listing.
pub(super) async fn bucket_usage(location: &pond::store::StoreLocation) -> Option<(u64, u64)> {
    use futures::TryStreamExt;
    let (os, prefix) = pond::store::reach::connect::object_store(location).ok()?;
    let listed: Vec<_> = os.list(Some(&prefix)).try_collect().await.ok()?;
    Some((
        listed.len() as u64,
        listed.iter().map(|m| m.size).sum::<u64>(),
    ))
}

/// (kind, files, bytes) under a local store, by the directory a table keeps
/// each kind of file in (`data`, `_indices`, `_deletions`, `_transactions`,
/// `_versions`; anything else is `other`): where the bytes a fresh ingest
/// does not have sit.
pub(super) fn usage_by_kind(dir: &Path) -> Vec<(&'static str, u64, u64)> {
    const KINDS: [&str; 5] = [
        "data",
        "_indices",
        "_deletions",
        "_transactions",
        "_versions",
    ];
    let mut tally: Vec<(&'static str, u64, u64)> = KINDS
        .iter()
        .chain(std::iter::once(&"other"))
        .map(|k| (*k, 0, 0))
        .collect();
    for entry in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
    {
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let kind = entry
            .path()
            .strip_prefix(dir)
            .ok()
            .and_then(|rel| rel.components().nth(1))
            .and_then(|c| KINDS.iter().position(|k| c.as_os_str() == *k))
            .unwrap_or(KINDS.len());
        tally[kind].1 += 1;
        tally[kind].2 += meta.len();
    }
    tally
}

pub(super) fn print_usage_by_kind(label: &str, dir: &Path) {
    let parts: Vec<String> = usage_by_kind(dir)
        .into_iter()
        .map(|(kind, files, bytes)| format!("{kind} {files} files {:.1} MB", bytes as f64 / 1e6))
        .collect();
    eprintln!("{label}, store by kind of file: {}", parts.join(", "));
}

/// User plus system CPU of every child that has been waited for.
#[cfg(unix)]
pub(super) fn children_core_secs() -> f64 {
    // SAFETY: getrusage only writes the struct it is handed; all-zero is a
    // valid rusage.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage.
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) } != 0 {
        return f64::NAN;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

#[cfg(not(unix))]
pub(super) fn children_core_secs() -> f64 {
    f64::NAN
}
