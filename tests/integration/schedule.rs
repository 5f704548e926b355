//! `pond schedule`: the units it writes run the right command and pass
//! `systemd-analyze verify`; `remove` takes them away.

use std::path::Path;
use std::process::Command;

use crate::harness::{Pond, output_ok};

fn verify(units: &[&Path]) {
    output_ok(
        Command::new("systemd-analyze").arg("verify").args(units),
        &format!(
            "systemd-analyze verify {units:?} (Debian package `systemd`; `make test` installs it)"
        ),
    );
}

#[test]
fn rule19_schedule_install_writes_a_valid_systemd_timer_and_remove_deletes_it() {
    let pond = Pond::new();
    let units = pond.root.join("home/.config/systemd/user");
    let run = |args: &[&str]| {
        let out = pond
            .cmd(args)
            .env_remove("XDG_CONFIG_HOME")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };

    run(&[
        "schedule", "install", "--method", "systemd", "--every", "10m",
    ]);
    let service = std::fs::read_to_string(units.join("pond-sync.service")).unwrap();
    let timer = std::fs::read_to_string(units.join("pond-sync.timer")).unwrap();
    assert!(
        service.contains(&format!(
            "ExecStart={} sync --no-wait --upkeep -q",
            env!("CARGO_BIN_EXE_pond")
        )),
        "{service}"
    );
    // The same store and state dir as the shell that installed it, no secrets.
    assert!(
        service.contains(&format!("Environment=\"POND_STORE={}\"", pond.store_url)),
        "{service}"
    );
    assert!(service.contains(&format!(
        "Environment=\"XDG_STATE_HOME={}\"",
        pond.state.display()
    )));
    assert!(timer.contains("OnUnitActiveSec=600s"), "{timer}");
    verify(&[
        &units.join("pond-sync.service"),
        &units.join("pond-sync.timer"),
    ]);

    let status: serde_json::Value = serde_json::from_str(&run(&[
        "schedule", "status", "--method", "systemd", "--json",
    ]))
    .unwrap();
    assert_eq!(status["installed"], true);
    assert!(status["last_sync"].is_null());

    run(&["schedule", "remove", "--method", "systemd"]);
    assert!(!units.join("pond-sync.service").exists() && !units.join("pond-sync.timer").exists());
    let status: serde_json::Value = serde_json::from_str(&run(&[
        "schedule", "status", "--method", "systemd", "--json",
    ]))
    .unwrap();
    assert_eq!(status["installed"], false);
}

#[test]
fn rule19_shipped_systemd_units_verify() {
    let work = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/systemd");
    let mut units = Vec::new();
    for name in ["pond-sync.service", "pond-sync.timer", "pond-agent.service"] {
        // Point %h/.local/bin/pond (where the installer puts it) at the binary
        // under test so the check can run here.
        let text = std::fs::read_to_string(shipped.join(name))
            .unwrap()
            .replace("%h/.local/bin/pond", env!("CARGO_BIN_EXE_pond"));
        let path = work.path().join(name);
        std::fs::write(&path, text).unwrap();
        units.push(path);
    }
    verify(&units.iter().map(|p| p.as_path()).collect::<Vec<_>>());
}

#[test]
fn schedule_with_cron_explains_a_missing_crontab() {
    let pond = Pond::new();
    let out = pond
        .cmd(&["schedule", "install", "--method", "cron"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("crontab is not installed"));
}
