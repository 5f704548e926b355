//! A sandboxed pond: its own HOME, XDG dirs, store and host name per test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub struct Pond {
    // Held for its Drop: removes everything the test wrote.
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub store: PathBuf,
    pub state: PathBuf,
}

impl Pond {
    pub fn new() -> Pond {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        Pond {
            store: root.join("store"),
            state: root.join("state"),
            root,
            _dir: dir,
        }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pond"));
        cmd.args(args)
            .env("HOME", self.root.join("home"))
            .env("XDG_STATE_HOME", &self.state)
            .env("XDG_DATA_HOME", self.root.join("data"))
            .env("POND_STORE", &self.store)
            .env("POND_HOST", "test-host")
            .env_remove("CLAUDE_CONFIG_DIR")
            .env_remove("CODEX_HOME")
            .env_remove("POND_LOG");
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
