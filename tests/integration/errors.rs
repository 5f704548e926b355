//! Rules 57 and 58: exit codes are a contract, and a failure a person can
//! meet in the first hour says in a line or two what went wrong and what to
//! do next, with no dependency's debug structure (the whole chain with -v).

use std::process::Output;
use std::time::Duration;

use crate::harness::{
    Pond, copy_fixture, field_of_each, fixtures, item_where, output_within, s3_env_for, services,
    unique_bucket,
};

const BOUND: Duration = Duration::from_secs(120);

/// What a person sees, checked: a short answer naming the next step, and
/// nothing of a dependency's insides.
fn assert_plain(what: &str, out: &Output, hint: &str) {
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{what}: {said}");
    assert!(said.contains(hint), "{what}: expected {hint:?} in:\n{said}");
    assert!(said.contains("next:"), "{what}: no next step in:\n{said}");
    for dump in ["{ ", "ProviderError", "RetryError", "source:", "src/"] {
        assert!(!said.contains(dump), "{what}: {dump:?} in:\n{said}");
    }
    assert!(
        said.len() < 900,
        "{what}: {} characters:\n{said}",
        said.len()
    );
}

#[test]
fn rule57_a_sync_of_a_path_that_does_not_exist_is_not_a_success() {
    let pond = Pond::new();
    let out = pond.output(&["sync", "claude-code", "--path", "/no/such/dir"]);
    assert_eq!(out.status.code(), Some(3), "partial: the input path failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("/no/such/dir") && stdout.contains("does not exist"),
        "{stdout}"
    );
    assert!(
        stdout.contains("pond adapters"),
        "names where to look: {stdout}"
    );
}

#[test]
fn rule57_a_partial_sync_a_usage_error_and_a_failure_have_their_codes() {
    let pond = Pond::new();
    pond.sync("codex", &fixtures("codex"));
    let session = pond.session_ids()[0].clone();
    for (args, code) in [
        (vec!["sync", "--no-such-flag"], 2),
        (vec!["export", &session, "--format", "md", "--json"], 2),
        (vec!["share", &session, "--expires", "soon"], 2),
        (vec!["show", "no-such-session"], 1),
        (vec!["status"], 0),
    ] {
        let out = pond.output(&args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A pond whose store is `url`, with `env` and no AWS credentials from
/// anywhere but `env`.
fn remote(url: &str, env: Vec<(String, String)>) -> Pond {
    let mut env = env;
    for (k, v) in [
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"),
        ("AWS_CONFIG_FILE", "/nonexistent/config"),
    ] {
        env.push((k.into(), v.into()));
    }
    Pond::remote(url, env)
}

fn status(pond: &Pond) -> Output {
    let mut cmd = pond.cmd(&["status"]);
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
    ] {
        if !pond.env.iter().any(|(k, _)| k == var) {
            cmd.env_remove(var);
        }
    }
    output_within(&mut cmd, BOUND)
}

fn pond_cmd_without_google(pond: &Pond) -> std::process::Command {
    let mut cmd = pond.cmd(&["status"]);
    cmd.env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .env_remove("GOOGLE_SERVICE_ACCOUNT");
    cmd
}

#[test]
fn rule58_store_failures_say_what_went_wrong_and_what_to_do() {
    let s = services();

    // No credentials at all.
    let no_keys: Vec<(String, String)> = s3_env_for(&s.s3)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("AWS_ACCESS") && !k.starts_with("AWS_SECRET"))
        .collect();
    let pond = remote(&crate::harness::new_s3_archive(&s.s3, "nokeys"), no_keys);
    let out = status(&pond);
    assert_plain("no credentials", &out, "AWS_ACCESS_KEY_ID");
    let verbose = output_within(&mut pond.cmd(&["status", "-v"]), BOUND);
    assert!(
        String::from_utf8_lossy(&verbose.stderr).lines().count()
            > String::from_utf8_lossy(&out.stderr).lines().count(),
        "-v shows the whole chain"
    );

    // An endpoint nothing listens on.
    let pond = remote("s3://nowhere/pond", s3_env_for("http://127.0.0.1:9"));
    assert_plain("unreachable endpoint", &status(&pond), "AWS_ENDPOINT_URL");

    // A bucket nobody made: the first sync says so.
    let pond = remote(
        &format!("s3://{}/pond", unique_bucket("missing")),
        s.s3_env(),
    );
    let out = output_within(&mut pond.codex_sync_cmd(), BOUND);
    assert_plain("missing bucket", &out, "create it");

    // Google Cloud Storage without a service account.
    let mut gcs = pond_cmd_without_google(&remote("gs://team-bucket/pond", Vec::new()));
    assert_plain(
        "no service account",
        &output_within(&mut gcs, BOUND),
        "GOOGLE_APPLICATION_CREDENTIALS",
    );

    // Azure with no account named anywhere, and an Azure endpoint nothing
    // listens on: each names Azure's own variables, not AWS's.
    let mut no_account = remote("az://pond-errors/archive", Vec::new()).cmd(&["status"]);
    for var in [
        "AZURE_STORAGE_ACCOUNT_NAME",
        "AZURE_STORAGE_ACCOUNT_KEY",
        "AZURE_STORAGE_ENDPOINT",
    ] {
        no_account.env_remove(var);
    }
    assert_plain(
        "no Azure account",
        &output_within(&mut no_account, BOUND),
        "AZURE_STORAGE_ACCOUNT_NAME",
    );
    let keyless: Vec<(String, String)> = s
        .azure_env(&s.azurite_key)
        .into_iter()
        .filter(|(k, _)| k != "AZURE_STORAGE_ACCOUNT_KEY")
        .collect();
    let mut keyless = remote("az://pond-errors/archive", keyless).cmd(&["status"]);
    keyless.env_remove("AZURE_STORAGE_ACCOUNT_KEY");
    assert_plain(
        "an Azure account without a key",
        &output_within(&mut keyless, BOUND),
        "AZURE_STORAGE_ACCOUNT_KEY",
    );
    let mut nowhere = s.azure_env(&s.azurite_key);
    for (k, v) in &mut nowhere {
        if k == "AZURE_STORAGE_ENDPOINT" {
            *v = "http://127.0.0.1:9/devstoreaccount1".into();
        }
    }
    let out = status(&remote("az://pond-errors/archive", nowhere));
    assert_plain("unreachable Azure endpoint", &out, "AZURE_STORAGE_ENDPOINT");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("AWS_"),
        "an Azure store is not told of AWS's variables"
    );

    // Credentials the store refuses.
    let pond = remote(
        "az://pond-errors/archive",
        s.azure_env("d3JvbmcgcGFzc3dvcmQ="),
    );
    assert_plain(
        "wrong credentials",
        &status(&pond),
        "refused pond's credentials",
    );
}

#[test]
fn rule58_a_taken_port_names_the_way_out() {
    let pond = Pond::new();
    pond.sync("codex", &fixtures("codex"));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = output_within(&mut pond.cmd(&["serve", "--listen", &addr]), BOUND);
    assert_plain("port in use", &out, "--listen");
}

#[test]
fn rule58_doctor_checks_everything_and_exits_by_the_worst() {
    let pond = Pond::new();
    pond.sync("codex", &fixtures("codex"));
    let out = pond.output(&["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names = field_of_each(&report["checks"], "name");
    for name in [
        "credentials",
        "store",
        "format",
        "clock",
        "state",
        "model",
        "clients",
        "last sync",
        "tokens",
    ] {
        assert!(names.contains(&name), "{name} missing: {report}");
    }
    let status_of = |name: &str| {
        item_where(&report["checks"], "name", name)["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for name in ["store", "format", "clock", "state", "last sync"] {
        assert_eq!(status_of(name), "ok", "{name}: {report}");
    }
    // No tokens here: a warning with its next step, so exit 3.
    assert_eq!(status_of("tokens"), "warning");
    assert_eq!(report["worst"], "warning");
    assert_eq!(out.status.code(), Some(3));
    let text = pond.output(&["doctor"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("next: only needed for `pond serve`"),
        "{text}"
    );

    // A store that cannot be reached fails the doctor, with what to check.
    let gone = remote("s3://nowhere/pond", s3_env_for("http://127.0.0.1:9"));
    let out = output_within(&mut gone.cmd(&["doctor", "--json"]), BOUND);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let store = item_where(&report["checks"], "name", "store");
    assert_eq!(store["status"], "failed", "{report}");
    assert!(
        store["next"].as_str().unwrap().contains("AWS_ENDPOINT_URL"),
        "{store}"
    );
}

#[test]
fn rule58_doctor_tells_a_clock_far_off_the_stores() {
    let pond = Pond::new();
    pond.sync("codex", &fixtures("codex"));
    let out = crate::harness::with_clock(&pond, "+10m", &["doctor", "--json"])
        .output()
        .expect("run faketime (Debian package faketime)");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let clock = item_where(&report["checks"], "name", "clock");
    assert_eq!(clock["status"], "failed", "{clock}");
    assert!(
        clock["detail"]
            .as_str()
            .unwrap()
            .contains("ahead of the store"),
        "{clock}"
    );
    assert!(
        clock["next"].as_str().unwrap().contains("timedatectl"),
        "{clock}"
    );
}

/// The IAM-enforcing S3 server's environment for one of its identities
/// (`full`, `reader`, `writer`), or for a key pair of the caller's choosing.
fn iam_env(key_id: &str, secret: &str) -> Vec<(String, String)> {
    let endpoint = std::env::var("POND_TEST_IAM_S3_ENDPOINT").expect(
        "POND_TEST_IAM_S3_ENDPOINT is not set: run `make test`, or source the env file `scripts/test-services.sh start` prints",
    );
    let mut env = s3_env_for(&endpoint);
    for (k, v) in &mut env {
        match k.as_str() {
            "AWS_ACCESS_KEY_ID" => *v = key_id.to_string(),
            "AWS_SECRET_ACCESS_KEY" => *v = secret.to_string(),
            _ => {}
        }
    }
    env
}

fn iam_identity(name: &str) -> (String, String) {
    let var = format!("POND_TEST_IAM_{}", name.to_uppercase());
    let pair = std::env::var(&var).unwrap_or_else(|_| panic!("{var} is not set"));
    let (id, secret) = pair.split_once(':').expect("KEY:SECRET");
    (id.to_string(), secret.to_string())
}

fn iam_pond(url: &str, name: &str) -> Pond {
    let (id, secret) = iam_identity(name);
    remote(url, iam_env(&id, &secret))
}

/// Rule 58, against a server that checks signatures and policies: a key it
/// does not know, a secret that does not match, an identity that may read
/// but not write, and one that may write but not read. Each says which it
/// was and what to grant or set.
#[test]
fn rule58_refused_credentials_and_denied_reads_and_writes_say_which() {
    let url = format!("s3://pond-iam/{}", unique_bucket("perm"));
    let full = iam_pond(&url, "full");
    full.sync("codex", &fixtures("codex"));

    let (known_id, _) = iam_identity("full");
    for (what, id, secret) in [
        ("unknown key", "AKIAPONDNOSUCHKEY000", "whatever"),
        ("wrong secret", known_id.as_str(), "not-the-secret"),
    ] {
        let pond = remote(&url, iam_env(id, secret));
        assert_plain(what, &status(&pond), "refused pond's credentials");
    }

    // May read: status and search work, a sync is refused at its first write.
    let reader = iam_pond(&url, "reader");
    let out = status(&reader);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = output_within(&mut reader.codex_sync_cmd(), BOUND);
    assert_plain("read-only identity syncing", &out, "refused pond writing");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("write"),
        "the next step names write permission"
    );

    // May write, not read: the first read is refused.
    let writer = iam_pond(&url, "writer");
    let out = status(&writer);
    assert_plain("write-only identity reading", &out, "refused pond reading");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("read and list"),
        "the next step names read permission"
    );
}

/// Rule 58: an installed pond has no Makefile, so a missing model names the
/// install line first (and `make models` for a clone), for the static model
/// and for the opt-in transformer alike.
#[test]
fn rule58_a_missing_model_names_the_install_line() {
    for (choice, hint) in [
        ("", "run the install line again"),
        ("transformer:", "POND_INSTALL_TRANSFORMER=1"),
    ] {
        let mut pond = Pond::new();
        let nowhere = pond.root.join("no-models");
        pond.env.push((
            "POND_EMBED_MODEL".into(),
            format!("{choice}{}", nowhere.display()),
        ));
        let status = pond.json(&["model", "status", "--json"]);
        let why = status["unavailable"].as_str().unwrap_or_default();
        assert!(
            why.contains(hint) && why.contains("make models"),
            "{choice}: {status}"
        );
        pond.sync("codex", &fixtures("codex"));
        let out = pond.output(&["search", "listen EPERM"]);
        assert!(out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("full-text only") && stderr.contains(hint),
            "{choice}: {stderr}"
        );
    }
}

/// `cmd` run by a user who owns none of the test's files: `nobody` when the
/// tests run as root (as CI here does, and root may read anything), else
/// the user itself, whom the modes below bind as much.
fn as_stranger(cmd: std::process::Command) -> std::process::Command {
    // SAFETY: geteuid only reads the calling process's user id.
    if unsafe { libc::geteuid() } != 0 {
        return cmd;
    }
    let mut wrapped = std::process::Command::new("setpriv");
    wrapped
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    wrapped
}

fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Lets the stranger enter `pond`'s folder and keep its own home and state.
fn open_to_strangers(pond: &Pond) {
    set_mode(&pond.root, 0o755);
    for dir in [pond.root.join("home"), pond.state.clone()] {
        std::fs::create_dir_all(&dir).unwrap();
        set_mode(&dir, 0o777);
    }
}

/// Rules 57 and 58 on a real local condition: a store folder this user may
/// not write, one it may not read (which must never pass for an empty
/// store), and a `--path` it may not read. Each says so and what to do.
#[test]
fn rule58_a_store_or_path_this_user_may_not_use_says_so() {
    let pond = Pond::new();
    open_to_strangers(&pond);
    let sessions = pond.root.join("sessions");
    copy_fixture("codex", "agent-sessions-small.jsonl", &sessions);
    let runs = output_within(&mut as_stranger(pond.cmd(&["--version"])), BOUND);
    assert!(
        runs.status.success(),
        "the stranger cannot run {}: keep CARGO_TARGET_DIR where every user may read",
        env!("CARGO_BIN_EXE_pond")
    );
    let sync = |pond: &Pond| {
        let mut cmd =
            as_stranger(pond.cmd(&["sync", "codex", "--path", sessions.to_str().unwrap()]));
        output_within(&mut cmd, BOUND)
    };

    // A store folder made by someone else, read-only to this user.
    std::fs::create_dir_all(&pond.store).unwrap();
    set_mode(&pond.store, 0o555);
    let out = sync(&pond);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("may not write to the store") && said.contains("write access"),
        "{said}"
    );
    assert!(said.lines().next().is_some_and(|l| l.len() < 300), "{said}");

    // A store this user may not read is an error, never an empty store.
    set_mode(&pond.store, 0o755);
    pond.sync("codex", &sessions);
    set_mode(&pond.store, 0o000);
    let out = output_within(&mut as_stranger(pond.cmd(&["status"])), BOUND);
    set_mode(&pond.store, 0o755);
    assert_plain("unreadable store", &out, "may not read the store");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("empty"),
        "an unreadable store is not empty"
    );

    // A --path this user may not read: partial, with the way out.
    let other = Pond::new();
    open_to_strangers(&other);
    std::fs::create_dir_all(&other.store).unwrap();
    set_mode(&other.store, 0o777);
    set_mode(&sessions, 0o000);
    let out = sync(&other);
    set_mode(&sessions, 0o755);
    assert_eq!(out.status.code(), Some(3), "partial: the input path failed");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("cannot be read by this user") && said.contains("read access"),
        "{said}"
    );
}

/// Rule 58: a config file that does not parse names the file, the line and
/// what is wrong there, and nothing runs on a config half read.
#[test]
fn rule58_a_config_that_does_not_parse_names_the_file_and_line() {
    let pond = Pond::new();
    let config = pond.root.join("config.toml");
    for (text, line, words) in [
        (
            "[store]\nurl = \"/tmp/x\"\n[search\nmodel = \"off\"\n",
            3,
            "expected `]`",
        ),
        ("[store]\nurl = 5\n", 2, "expected a string"),
        ("[store]\nulr = \"/tmp/x\"\n", 2, "unknown field `ulr`"),
    ] {
        std::fs::write(&config, text).unwrap();
        let out = pond.output(&["--config", config.to_str().unwrap(), "status"]);
        assert_eq!(out.status.code(), Some(1), "{text}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(config.to_str().unwrap())
                && stderr.contains(&format!("line {line}:"))
                && stderr.contains(words),
            "{text}: {stderr}"
        );
        assert!(stderr.lines().count() <= 3, "{stderr}");
        assert!(!stderr.contains("{ "), "{stderr}");
    }
}
