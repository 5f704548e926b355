//! A sandboxed pond: its own HOME, XDG dirs, store and host name per test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

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
        assert!(
            out.status.success(),
            "pond {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
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
        let out = self
            .sync_cmd(adapter, dir)
            .env("POND_HOST", host)
            .output()
            .expect("run pond");
        assert!(
            out.status.success(),
            "sync as {host} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("sync JSON")
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

/// Requires a finished command to have succeeded, with its stderr in the
/// failure message.
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "the command failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn fixtures(client: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(client)
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

/// Creates a bucket on the S3 server (moto accepts unsigned requests).
pub fn create_bucket(endpoint: &str, bucket: &str) {
    use std::io::{Read, Write};
    let addr = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut conn = std::net::TcpStream::connect(addr).expect("connect to the S3 server");
    write!(
        conn,
        "PUT /{bucket} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "create bucket {bucket}: {response}"
    );
}

/// A bucket name no other test uses.
pub fn unique_bucket(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{:x}", nanos % (1u128 << 48))
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
