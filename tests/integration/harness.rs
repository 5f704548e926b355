//! A sandboxed pond: its own HOME, XDG dirs, store and host name per test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub use crate::command_checks::{assert_ran_ok, assert_success, create_bucket, output_ok};

pub struct Pond {
    // Held for its Drop: removes everything the test wrote.
    _dir: Workdir,
    pub root: PathBuf,
    pub store: PathBuf,
    pub state: PathBuf,
    /// POND_STORE for every command: the local `store` dir unless changed.
    pub store_url: String,
    /// Extra environment for every command (object-store settings).
    pub env: Vec<(String, String)>,
}

enum Workdir {
    Temp(#[allow(dead_code)] tempfile::TempDir),
    Fixed(PathBuf),
}

impl Drop for Workdir {
    fn drop(&mut self) {
        if let Workdir::Fixed(dir) = self {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Pond {
    pub fn new() -> Pond {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        Pond {
            store_url: root.join("store").display().to_string(),
            store: root.join("store"),
            state: root.join("state"),
            root,
            _dir: Workdir::Temp(dir),
            env: Vec::new(),
        }
    }

    /// A pond in `root`, a fixed directory (a store unpacked where it was
    /// written, so its recorded paths hold), removed when dropped.
    pub fn at(root: &Path) -> Pond {
        Pond {
            store_url: root.join("store").display().to_string(),
            store: root.join("store"),
            state: root.join("state"),
            root: root.to_path_buf(),
            _dir: Workdir::Fixed(root.to_path_buf()),
            env: Vec::new(),
        }
    }

    /// A pond whose store is `url`, reached with `env` (e.g. [`Services::s3_env`]).
    pub fn remote(url: &str, env: Vec<(String, String)>) -> Pond {
        let mut pond = Pond::new();
        pond.store_url = url.to_string();
        pond.env = env;
        pond
    }

    /// A pond whose store is an archive in a new bucket of the test S3
    /// server, so no other test shares it.
    pub fn on_new_s3_archive(s: &Services, prefix: &str) -> Pond {
        Pond::remote(&new_s3_archive(&s.s3, prefix), s.s3_env())
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        // POND_TEST_BIN runs the tests against a copy of the binary (used
        // to evaluate models while the tree is being rebuilt).
        let bin =
            std::env::var_os("POND_TEST_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_pond").into());
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .env("HOME", self.root.join("home"))
            .env("XDG_STATE_HOME", &self.state)
            .env("XDG_DATA_HOME", self.root.join("data"))
            .env("POND_STORE", &self.store_url)
            .env("POND_HOST", "test-host")
            .env_remove("CLAUDE_CONFIG_DIR")
            .env_remove("CODEX_HOME")
            .env_remove("POND_CONFIG")
            // Most tests are about storage; the search tests turn the model on.
            .env("POND_EMBED_MODEL", "off")
            .env_remove("POND_LOG");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn output(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run pond")
    }

    /// Runs pond, requires success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert_ran_ok(&out, &format!("pond {args:?}"));
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let stdout = self.ok(args);
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("pond {args:?}: bad JSON ({e}): {stdout}"))
    }

    /// `pond sync ADAPTER --path DIR --json`, to add environment to before running.
    pub fn sync_cmd(&self, adapter: &str, dir: &Path) -> Command {
        self.cmd(&[
            "sync",
            adapter,
            "--path",
            dir.to_str().expect("utf-8 path"),
            "--json",
        ])
    }

    /// [`Pond::sync`] as another host (`POND_HOST`), requiring success.
    pub fn sync_as(&self, host: &str, adapter: &str, dir: &Path) -> Value {
        let mut cmd = self.sync_cmd(adapter, dir);
        let out = output_ok(cmd.env("POND_HOST", host), &format!("sync as {host}"));
        serde_json::from_slice(&out.stdout).expect("sync JSON")
    }

    /// `pond sync codex` of the codex fixture as a person types it (no
    /// `--json`): for checks on what a plain run says or sends.
    pub fn codex_sync_cmd(&self) -> Command {
        self.cmd(&[
            "sync",
            "codex",
            "--path",
            fixtures("codex").to_str().expect("utf-8 path"),
        ])
    }

    pub fn sync(&self, adapter: &str, dir: &Path) -> Value {
        self.json(&[
            "sync",
            adapter,
            "--path",
            dir.to_str().expect("utf-8 path"),
            "--json",
        ])
    }

    pub fn session_ids(&self) -> Vec<String> {
        self.json(&["sessions", "--limit", "100000", "--json"])
            .as_array()
            .expect("array")
            .iter()
            .map(|s| s["id"].as_str().expect("id").to_string())
            .collect()
    }

    /// The raw text of this pond's last-sync record (there is one store per test).
    pub fn last_sync_text(&self) -> String {
        let dir = self.state.join("pond");
        let path = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("last-sync-")
            })
            .unwrap_or_else(|| panic!("no last-sync record in {}", dir.display()));
        std::fs::read_to_string(path).unwrap()
    }

    pub fn last_sync_record(&self) -> Value {
        serde_json::from_str(&self.last_sync_text()).unwrap()
    }

    /// Rule 1's check: every session exported into `ROOT/out` gives back the
    /// tree `src` it was synced from, byte for byte.
    pub fn assert_exports_back(&self, src: &Path) {
        let out = self.root.join("out");
        self.export_all(&out);
        assert_same_tree(src, &out);
    }

    /// Copies the fixture folder `dir` to `ROOT/src` and returns that path: a
    /// source the test may change or grow without touching the shipped files.
    pub fn copy_to_src(&self, dir: &Path) -> PathBuf {
        let src = self.root.join("src");
        copy_dir(dir, &src);
        src
    }

    /// Writes `text` as `ROOT/pond.toml` and returns its path: the config a
    /// test hands a command through `POND_CONFIG`, to see what it alone sets.
    pub fn write_config(&self, text: &str) -> PathBuf {
        let config = self.root.join("pond.toml");
        std::fs::write(&config, text).expect("write pond.toml");
        config
    }

    /// Exports every session into `out`.
    pub fn export_all(&self, out: &Path) {
        for id in self.session_ids() {
            self.ok(&[
                "export",
                &id,
                "--raw",
                "--out",
                out.to_str().expect("utf-8"),
            ]);
        }
    }
}

/// `pond ARGS` in `pond`'s sandbox with this host's clock `offset` off
/// (libfaketime, Debian's `faketime`: `+10m`, `-2h`); a local store still
/// stamps its objects by the real clock.
pub fn with_clock(pond: &Pond, offset: &str, args: &[&str]) -> Command {
    let template = pond.cmd(args);
    let mut cmd = Command::new("faketime");
    cmd.arg("-f").arg(offset).arg(template.get_program());
    cmd.args(template.get_args());
    for (k, v) in template.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd
}

pub fn fixtures(client: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(client)
}

/// Copies the one fixture file `rel` of `client` to the same place under
/// `dir`, for a test that needs that file alone; returns where it went.
pub fn copy_fixture(client: &str, rel: &str, dir: &Path) -> PathBuf {
    let target = dir.join(rel);
    std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
    std::fs::copy(fixtures(client).join(rel), &target).expect("copy fixture");
    target
}

pub fn copy_dir(src: &Path, dst: &Path) {
    for (rel, bytes) in tree(src) {
        let target = dst.join(rel);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::write(target, bytes).expect("write");
    }
}

/// Every file under `dir` by relative path.
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .expect("prefix")
                    .to_string_lossy()
                    .replace('\\', "/");
                files.insert(rel, std::fs::read(&path).expect("read"));
            }
        }
    }
    files
}

pub fn count(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("`{key}` missing in {v}"))
}

/// The JSON that the finished command `what` printed, once
/// [`assert_ran_ok`] holds.
pub fn success_json(out: &Output, what: &str) -> Value {
    assert_ran_ok(out, what);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{what}: bad JSON ({e})"))
}

/// The string `field` of each item of the JSON array `list`, in order: most
/// checks compare a response's ids, names or roles as one plain list.
pub fn field_of_each<'a>(list: &'a Value, field: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|item| {
            item[field]
                .as_str()
                .unwrap_or_else(|| panic!("`{field}` missing in {item}"))
        })
        .collect()
}

/// The item of the JSON array `list` whose `field` is `value`: how a check
/// picks one row or one check out of a report.
pub fn item_where<'a>(list: &'a Value, field: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .find(|item| item[field] == value)
        .unwrap_or_else(|| panic!("no `{field}` {value:?} in {list}"))
}

/// Rule 2: syncing `src` again inserts and commits nothing, and each key of
/// `also_zero` is zero too.
pub fn assert_resync_adds_nothing(pond: &Pond, adapter: &str, src: &Path, also_zero: &[&str]) {
    let again = pond.sync(adapter, src);
    let keys = [
        "records_inserted",
        "messages_inserted",
        "sessions_inserted",
        "commits",
    ];
    for key in keys.iter().chain(also_zero) {
        assert_eq!(
            count(&again, key),
            0,
            "{adapter}: {key} on re-sync: {again}"
        );
    }
}

/// Asserts two trees hold the same files with the same bytes, naming the first difference.
pub fn assert_same_tree(expected: &Path, actual: &Path) {
    let (e, a) = (tree(expected), tree(actual));
    let e_names: Vec<&String> = e.keys().collect();
    let a_names: Vec<&String> = a.keys().collect();
    assert_eq!(e_names, a_names, "exported file set differs");
    for (name, bytes) in &e {
        assert!(
            a[name] == *bytes,
            "{name}: exported bytes differ from the source"
        );
    }
}

/// The real servers `scripts/test-services.sh` started (`make test` does).
pub struct Services {
    pub s3: String,
    pub nocond_s3: String,
    pub azurite: String,
    pub azurite_account: String,
    pub azurite_key: String,
}

pub fn services() -> Services {
    let get = |k: &str| {
        std::env::var(k).unwrap_or_else(|_| {
            panic!("{k} is not set: these tests need the real S3 and Azure servers; run `make test`, or `scripts/test-services.sh start` and source the env file it prints")
        })
    };
    Services {
        s3: get("POND_TEST_S3_ENDPOINT"),
        nocond_s3: get("POND_TEST_NOCOND_S3_ENDPOINT"),
        azurite: get("POND_TEST_AZURITE_ENDPOINT"),
        azurite_account: get("POND_TEST_AZURITE_ACCOUNT"),
        azurite_key: get("POND_TEST_AZURITE_KEY"),
    }
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Services {
    /// The standard AWS variables a CI runner would set.
    pub fn s3_env(&self) -> Vec<(String, String)> {
        s3_env_for(&self.s3)
    }

    pub fn azure_env(&self, key: &str) -> Vec<(String, String)> {
        pairs(&[
            ("AZURE_STORAGE_ACCOUNT_NAME", &self.azurite_account),
            ("AZURE_STORAGE_ACCOUNT_KEY", key),
            ("AZURE_STORAGE_ENDPOINT", &self.azurite),
            ("AZURE_ALLOW_HTTP", "true"),
        ])
    }

    /// The same settings as store options, for opening the store in-process.
    pub fn s3_options(&self) -> Vec<(String, String)> {
        pairs(&[
            ("aws_endpoint", &self.s3),
            ("aws_region", "us-east-1"),
            ("aws_access_key_id", "pond-test"),
            ("aws_secret_access_key", "pond-test"),
            ("allow_http", "true"),
        ])
    }

    pub fn azure_options(&self) -> Vec<(String, String)> {
        pairs(&[
            ("azure_storage_account_name", &self.azurite_account),
            ("azure_storage_account_key", &self.azurite_key),
            ("azure_storage_endpoint", &self.azurite),
            ("allow_http", "true"),
        ])
    }
}

pub fn s3_env_for(endpoint: &str) -> Vec<(String, String)> {
    pairs(&[
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "pond-test"),
        ("AWS_SECRET_ACCESS_KEY", "pond-test"),
        ("AWS_ALLOW_HTTP", "true"),
    ])
}

/// A bucket name no other test uses.
pub fn unique_bucket(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{:x}", nanos % (1u128 << 48))
}

/// The URL of an archive in a new bucket on the S3 server at `endpoint`:
/// each S3 test writes where no other test (or earlier run) has.
pub fn new_s3_archive(endpoint: &str, prefix: &str) -> String {
    let bucket = unique_bucket(prefix);
    create_bucket(endpoint, &bucket);
    format!("s3://{bucket}/archive")
}

/// Runs `cmd`, killing it if it has not finished within `limit`.
pub fn output_within(cmd: &mut Command, limit: std::time::Duration) -> Output {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn pond");
    let started = std::time::Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "pond did not finish within {limit:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Opens a store in-process to check what it holds.
pub fn open_store(
    url: &str,
    options: Vec<(String, String)>,
) -> (tokio::runtime::Runtime, pond::store::Store) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let location = pond::store::StoreLocation::parse(url)
        .unwrap()
        .with_options(options);
    let store = runtime
        .block_on(pond::store::Store::open(
            &location,
            pond::store::OpenMode::Existing,
        ))
        .unwrap();
    (runtime, store)
}

/// Every value of a string column, duplicates included.
pub fn column(
    runtime: &tokio::runtime::Runtime,
    store: &pond::store::Store,
    table: pond::store::TableKind,
    name: &str,
) -> Vec<String> {
    let batches = runtime
        .block_on(store.scan(table, None, Some(&[name])))
        .unwrap();
    let mut values = Vec::new();
    for b in &batches {
        let col = pond::store::tables::schema::Columns::new(b);
        values.extend(col.str(name).unwrap().iter().flatten().map(str::to_string));
    }
    values
}

/// Asserts no value repeats and returns them as a set.
pub fn unique(values: Vec<String>, what: &str) -> std::collections::BTreeSet<String> {
    let n = values.len();
    let set: std::collections::BTreeSet<String> = values.into_iter().collect();
    assert_eq!(set.len(), n, "{what}: {} keys stored twice", n - set.len());
    set
}
