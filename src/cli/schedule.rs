//! `pond schedule install|remove|status`: run `pond sync` periodically as the
//! current user, with the same store, config and state dir as this shell.
//!
//! systemd user timer where systemd runs, a crontab line otherwise, a launchd
//! agent on macOS. Secrets are never written into the schedule: credentials
//! come from the config file or the environment the scheduler provides.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Serialize;

use super::{Context, ScheduleAction, ScheduleArgs, ScheduleMethod, output};

const UNIT: &str = "pond-sync";
const CRON_MARK: &str = "# pond-sync (managed by `pond schedule`)";
const LAUNCHD_LABEL: &str = "dev.pond.sync";

/// Variables that decide which store, config, state and sources a sync uses.
/// Credentials are deliberately absent.
const CARRIED_VARS: &[&str] = &[
    "POND_STORE",
    "POND_HOST",
    "POND_CONFIG",
    "XDG_CONFIG_HOME",
    "XDG_STATE_HOME",
    "XDG_DATA_HOME",
    "CLAUDE_CONFIG_DIR",
    "CODEX_HOME",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
];

#[derive(Debug, Serialize)]
struct ScheduleStatus {
    method: ScheduleMethod,
    installed: bool,
    files: Vec<PathBuf>,
    /// What the scheduler says, where it can be asked.
    scheduler: Option<String>,
    last_sync: Option<chrono::DateTime<chrono::Utc>>,
    last_outcome: Option<String>,
}

pub async fn run(ctx: &Context, args: ScheduleArgs) -> anyhow::Result<ExitCode> {
    let method = match args.method {
        Some(m) => m,
        None => detect(),
    };
    match args.action {
        ScheduleAction::Install => install(method, args.every),
        ScheduleAction::Remove => remove(method),
        ScheduleAction::Status => status(ctx, method, args.json),
    }
}

fn detect() -> ScheduleMethod {
    if cfg!(target_os = "macos") {
        ScheduleMethod::Launchd
    } else if Path::new("/run/systemd/system").exists() || which("crontab").is_none() {
        ScheduleMethod::Systemd
    } else {
        ScheduleMethod::Cron
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

fn carried_env() -> Vec<(String, String)> {
    CARRIED_VARS
        .iter()
        .filter_map(|k| {
            std::env::var(k)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| (k.to_string(), v))
        })
        .collect()
}

fn exe() -> anyhow::Result<PathBuf> {
    std::env::current_exe().context("cannot find the pond executable to schedule")
}

fn systemd_dir() -> PathBuf {
    crate::config::default_path()
        .parent()
        .and_then(Path::parent)
        .map(|c| c.join("systemd").join("user"))
        .unwrap_or_else(|| crate::paths::home_dir().join(".config/systemd/user"))
}

fn launchd_path() -> PathBuf {
    crate::paths::home_dir()
        .join("Library/LaunchAgents")
        .join(format!("{LAUNCHD_LABEL}.plist"))
}

fn install(method: ScheduleMethod, every: Duration) -> anyhow::Result<ExitCode> {
    if every < Duration::from_secs(60) {
        bail!("--every must be at least 1m");
    }
    let exe = exe()?;
    let env = carried_env();
    match method {
        ScheduleMethod::Systemd => install_systemd(&exe, &env, every)?,
        ScheduleMethod::Cron => install_cron(&exe, &env, every)?,
        ScheduleMethod::Launchd => install_launchd(&exe, &env, every)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// A user service and a timer with a little jitter, so a fleet of hosts
/// installed at once does not sync in lockstep.
fn install_systemd(exe: &Path, env: &[(String, String)], every: Duration) -> anyhow::Result<()> {
    let dir = systemd_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let environment: String = env
        .iter()
        .map(|(k, v)| format!("Environment=\"{k}={}\"\n", v.replace('"', "\\\"")))
        .collect();
    let service = format!(
        "[Unit]\nDescription=pond: sync this host's AI coding-agent sessions\n\n[Service]\nType=oneshot\nExecStart={} sync --no-wait --upkeep -q\n# 75: a sync was still running, so this tick was skipped.\nSuccessExitStatus=75\n{environment}Nice=10\n",
        exe.display()
    );
    let jitter = (every / 10).min(Duration::from_secs(60)).as_secs().max(1);
    let timer = format!(
        "[Unit]\nDescription=pond: sync sessions every {every}\n\n[Timer]\nOnBootSec=2min\nOnUnitActiveSec={secs}s\nRandomizedDelaySec={jitter}s\n\n[Install]\nWantedBy=timers.target\n",
        every = humantime::format_duration(every),
        secs = every.as_secs()
    );
    let service_path = dir.join(format!("{UNIT}.service"));
    let timer_path = dir.join(format!("{UNIT}.timer"));
    crate::paths::write_atomic(&service_path, service.as_bytes())?;
    crate::paths::write_atomic(&timer_path, timer.as_bytes())?;
    println!(
        "wrote {} and {}",
        service_path.display(),
        timer_path.display()
    );
    if Path::new("/run/systemd/system").exists() {
        run_tool("systemctl", &["--user", "daemon-reload"])?;
        run_tool(
            "systemctl",
            &["--user", "enable", "--now", &format!("{UNIT}.timer")],
        )?;
        println!("enabled {UNIT}.timer");
    } else {
        println!(
            "systemd is not running here; enable it later with: systemctl --user enable --now {UNIT}.timer"
        );
    }
    Ok(())
}

fn install_cron(exe: &Path, env: &[(String, String)], every: Duration) -> anyhow::Result<()> {
    let minutes = (every.as_secs() / 60).max(1);
    let when = if minutes < 60 {
        format!("*/{minutes} * * * *")
    } else {
        format!("0 */{} * * *", (minutes / 60).min(23))
    };
    let env: String = env
        .iter()
        .map(|(k, v)| format!("{k}='{}' ", v.replace('\'', "")))
        .collect();
    let line = format!(
        "{when} {env}{} sync --no-wait --upkeep -q {CRON_MARK}",
        exe.display()
    );
    let mut lines = current_crontab()?;
    lines.retain(|l| !l.contains(CRON_MARK));
    lines.push(line);
    write_crontab(&lines)?;
    println!(
        "added to your crontab: every {}",
        humantime::format_duration(every)
    );
    Ok(())
}

fn install_launchd(exe: &Path, env: &[(String, String)], every: Duration) -> anyhow::Result<()> {
    let path = launchd_path();
    let env: String = env
        .iter()
        .map(|(k, v)| format!("    <key>{}</key><string>{}</string>\n", xml(k), xml(v)))
        .collect();
    let plist = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n<dict>\n  <key>Label</key><string>{LAUNCHD_LABEL}</string>\n  <key>ProgramArguments</key>\n  <array><string>{}</string><string>sync</string><string>--no-wait</string><string>--upkeep</string><string>-q</string></array>\n  <key>StartInterval</key><integer>{}</integer>\n  <key>EnvironmentVariables</key>\n  <dict>\n{env}  </dict>\n</dict>\n</plist>\n",
        xml(&exe.display().to_string()),
        every.as_secs()
    );
    crate::paths::write_atomic(&path, plist.as_bytes())?;
    println!("wrote {}", path.display());
    if which("launchctl").is_some() {
        run_tool("launchctl", &["load", "-w", &path.display().to_string()])?;
    }
    Ok(())
}

fn remove(method: ScheduleMethod) -> anyhow::Result<ExitCode> {
    match method {
        ScheduleMethod::Systemd => {
            if Path::new("/run/systemd/system").exists() {
                // Best effort: the unit may never have been enabled.
                let _ = run_tool(
                    "systemctl",
                    &["--user", "disable", "--now", &format!("{UNIT}.timer")],
                );
            }
            for ext in ["timer", "service"] {
                let path = systemd_dir().join(format!("{UNIT}.{ext}"));
                if path.exists() {
                    std::fs::remove_file(&path)
                        .with_context(|| format!("cannot remove {}", path.display()))?;
                    println!("removed {}", path.display());
                }
            }
        }
        ScheduleMethod::Cron => {
            let mut lines = current_crontab()?;
            let before = lines.len();
            lines.retain(|l| !l.contains(CRON_MARK));
            if lines.len() != before {
                write_crontab(&lines)?;
                println!("removed the pond line from your crontab");
            }
        }
        ScheduleMethod::Launchd => {
            let path = launchd_path();
            if path.exists() {
                if which("launchctl").is_some() {
                    let _ = run_tool("launchctl", &["unload", "-w", &path.display().to_string()]);
                }
                std::fs::remove_file(&path)?;
                println!("removed {}", path.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn status(ctx: &Context, method: ScheduleMethod, json: bool) -> anyhow::Result<ExitCode> {
    let (files, installed, scheduler) = match method {
        ScheduleMethod::Systemd => {
            let files: Vec<PathBuf> = ["service", "timer"]
                .iter()
                .map(|e| systemd_dir().join(format!("{UNIT}.{e}")))
                .collect();
            let installed = files.iter().all(|f| f.exists());
            let scheduler = Path::new("/run/systemd/system").exists().then(|| {
                Command::new("systemctl")
                    .args(["--user", "is-active", &format!("{UNIT}.timer")])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                    .unwrap_or_else(|e| e.to_string())
            });
            (files, installed, scheduler)
        }
        ScheduleMethod::Cron => {
            let installed = current_crontab()
                .map(|l| l.iter().any(|l| l.contains(CRON_MARK)))
                .unwrap_or(false);
            (Vec::new(), installed, None)
        }
        ScheduleMethod::Launchd => {
            let path = launchd_path();
            (vec![path.clone()], path.exists(), None)
        }
    };
    let last = crate::sync::report::read_last_sync(&crate::paths::state_dir(), &ctx.location.key);
    let status = ScheduleStatus {
        method,
        installed,
        files,
        scheduler,
        last_sync: last.as_ref().map(|r| r.finished_at),
        last_outcome: last.as_ref().map(|r| r.outcome.as_str().to_string()),
    };
    if json {
        output::print_json(&status)?;
    } else {
        println!(
            "schedule ({:?}): {}",
            status.method,
            if status.installed {
                "installed"
            } else {
                "not installed"
            }
        );
        for f in &status.files {
            println!("  {}", f.display());
        }
        if let Some(s) = &status.scheduler {
            println!("  scheduler says: {s}");
        }
        match (&status.last_sync, &status.last_outcome) {
            (Some(t), Some(o)) => {
                println!("last sync: {} ({o})", t.format("%Y-%m-%d %H:%M:%S UTC"))
            }
            _ => println!("last sync: never from this host"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_tool(program: &str, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {program}"))?;
    if !out.status.success() {
        bail!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn current_crontab() -> anyhow::Result<Vec<String>> {
    if which("crontab").is_none() {
        bail!("crontab is not installed; use --method systemd");
    }
    let out = Command::new("crontab").arg("-l").output()?;
    // `crontab -l` fails when the user has no crontab yet: that is an empty one.
    Ok(if out.status.success() {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    } else {
        Vec::new()
    })
}

fn write_crontab(lines: &[String]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut child = Command::new("crontab")
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .spawn()?;
    let mut text = lines.join("\n");
    text.push('\n');
    child
        .stdin
        .take()
        .context("crontab stdin")?
        .write_all(text.as_bytes())?;
    if !child.wait()?.success() {
        bail!("crontab refused the new table");
    }
    Ok(())
}

fn xml(s: &str) -> String {
    crate::escape::escaped(s, crate::escape::XML_TEXT)
}

/// What keeps this host's syncs running, if anything is installed: for
/// `pond doctor`.
pub(super) fn installed() -> Option<String> {
    let systemd = ["service", "timer"]
        .iter()
        .map(|e| systemd_dir().join(format!("{UNIT}.{e}")))
        .all(|f| f.exists());
    if systemd {
        return Some(format!("a systemd timer ({UNIT}.timer)"));
    }
    if launchd_path().exists() {
        return Some(format!("a launchd job ({})", launchd_path().display()));
    }
    if current_crontab().is_ok_and(|lines| lines.iter().any(|l| l.contains(CRON_MARK))) {
        return Some("a cron entry".to_string());
    }
    let agent = agent_unit();
    agent
        .exists()
        .then(|| format!("a pond agent service ({})", agent.display()))
}

/// Where `deploy/systemd/pond-agent.service` is installed for this user.
fn agent_unit() -> PathBuf {
    systemd_dir().join("pond-agent.service")
}
