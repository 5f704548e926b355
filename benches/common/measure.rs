//! The few measuring helpers every plain-harness bench needs: settings from
//! the environment, the pond binary pointed at a bench's store,
//! percentiles, and the core-seconds a CPU-bound target is reported with
//! next to its wall time.
#![allow(dead_code)]

/// The pond binary under test: this build's, or `POND_BENCH_BIN` (a
/// release build, e.g. the `dist` profile's, timed by a bench built in the
/// faster dev profile).
pub fn binary() -> std::path::PathBuf {
    std::env::var_os("POND_BENCH_BIN").map_or_else(|| env!("CARGO_BIN_EXE_pond").into(), Into::into)
}

/// The pond binary under test, on `store` with its own state directory, as
/// host "bench" and with no config file of the machine's.
pub fn pond(
    store: &std::path::Path,
    state: &std::path::Path,
    args: &[&str],
) -> std::process::Command {
    let mut cmd = std::process::Command::new(binary());
    cmd.args(args)
        .env("POND_STORE", store)
        .env("POND_HOST", "bench")
        .env("XDG_STATE_HOME", state)
        .env_remove("POND_CONFIG");
    cmd
}

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `p` quantile (0..=1) of `v`, nearest rank.
pub fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// User plus system CPU seconds of this process and its waited-for children.
pub fn core_secs() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    let mut total = 0.0;
    for who in [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN] {
        // SAFETY: getrusage fills the struct it is given.
        if unsafe { libc::getrusage(who, usage.as_mut_ptr()) } == 0 {
            // SAFETY: initialised by the successful call above.
            let u = unsafe { usage.assume_init() };
            total += u.ru_utime.tv_sec as f64 + u.ru_utime.tv_usec as f64 / 1e6;
            total += u.ru_stime.tv_sec as f64 + u.ru_stime.tv_usec as f64 / 1e6;
        }
    }
    total
}

/// CPU seconds (user plus system) a running process has used so far, from
/// `/proc`: for a server the bench has not waited for yet.
pub fn process_core_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may hold spaces, in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / per_sec)
}

/// Starts `pond serve` (the command given, which must include `--listen`)
/// and returns it with the address it printed, its log drained in the
/// background so it never blocks on a full pipe.
pub fn spawn_server(mut cmd: std::process::Command) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut server = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start pond serve");
    let mut lines = BufReader::new(server.stderr.take().expect("stderr")).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split("on http://")
                .nth(1)
                .and_then(|r| r.split_whitespace().next().map(str::to_string))
        })
        .expect("pond serve printed its address");
    std::thread::spawn(move || for _ in lines {});
    (server, addr)
}
