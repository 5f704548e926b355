//! The install line end to end (issue 32): release archives served from a
//! loopback HTTP server as a release page serves them, `scripts/install.sh`
//! run in a fresh HOME whose PATH has a shell, curl and core tools but no
//! Rust and no Python, then a sync of the shipped fixtures and a hybrid
//! search with the model the archive brought. A tampered archive and a
//! release without this machine's build install nothing; a second run
//! upgrades in place.
//!
//! The archive is packed by `scripts/dist.sh` from the binary under test
//! (no release build in `make test`); `POND_DIST=<dir>` tests a `make dist`
//! output instead.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use serde_json::Value;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn target() -> String {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc -vV");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .expect("host triple")
}

/// `dist/` as `make dist` leaves it: the archive, SHA256SUMS, VERSION.
fn dist(work: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("POND_DIST") {
        return PathBuf::from(dir);
    }
    let out = work.join("dist");
    let bin =
        std::env::var_os("POND_TEST_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_pond").into());
    let status = Command::new(repo().join("scripts/dist.sh"))
        .arg("--binary")
        .arg(bin)
        .arg("--out")
        .arg(&out)
        .arg("--fast")
        .status()
        .expect("run scripts/dist.sh");
    assert!(status.success(), "scripts/dist.sh failed");
    out
}

/// Lays `dist` out as a release page: `download/v<version>/…` and
/// `latest/download/VERSION`.
fn publish(dist: &Path, releases: &Path, version: &str, latest: bool) {
    let dir = releases.join("download").join(format!("v{version}"));
    std::fs::create_dir_all(&dir).expect("release dir");
    let from = format!("pond-{VERSION}-");
    let to = format!("pond-{version}-");
    // Another version of the same build: the archive's top directory and
    // name carry the version, so it is repacked under the new name.
    for entry in std::fs::read_dir(dist).expect("dist") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).expect("name");
        if let Some(rest) = name.strip_prefix(&from) {
            let renamed = format!("{to}{rest}");
            if version == VERSION {
                std::fs::copy(&path, dir.join(&renamed)).expect("copy archive");
            } else {
                repack(&path, &dir.join(&renamed), &from, &to);
            }
        }
    }
    let sums = Command::new("sh")
        .arg("-c")
        .arg("sha256sum pond-*.tar.gz > SHA256SUMS")
        .current_dir(&dir)
        .status()
        .expect("sha256sum");
    assert!(sums.success());
    if latest {
        let latest = releases.join("latest").join("download");
        std::fs::create_dir_all(&latest).expect("latest dir");
        std::fs::write(latest.join("VERSION"), format!("{version}\n")).expect("VERSION");
    }
}

fn repack(archive: &Path, to: &Path, from_prefix: &str, to_prefix: &str) {
    let scratch = tempfile::tempdir().expect("scratch");
    let run = |script: String| {
        let status = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(scratch.path())
            .status()
            .expect("sh");
        assert!(status.success());
    };
    run(format!("tar -xzf '{}'", archive.display()));
    let old = std::fs::read_dir(scratch.path())
        .expect("unpacked")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with(from_prefix.trim_end_matches('-')))
        .expect("top directory");
    let new = old.replacen(from_prefix, to_prefix, 1);
    run(format!(
        "mv '{old}' '{new}' && tar -cf - '{new}' | gzip -1 > '{}'",
        to.display()
    ));
}

/// Serves `root` over HTTP on loopback, one connection at a time.
fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            answer(stream, &root);
        }
    });
    format!("http://{addr}")
}

fn answer(mut stream: TcpStream, root: &Path) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => break,
            Ok(_) if header == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let file = root.join(path.trim_start_matches('/'));
    let body = if path.contains("..") {
        None
    } else {
        std::fs::read(file).ok()
    };
    let _ = match body {
        Some(body) => stream
            .write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
            )
            .and_then(|()| stream.write_all(&body)),
        None => stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    };
}

/// A PATH with only what the installer may use: no cargo, rustc, python.
fn bare_path(work: &Path) -> PathBuf {
    let dir = work.join("tools");
    std::fs::create_dir_all(&dir).expect("tools dir");
    for tool in [
        "sh",
        "uname",
        "mktemp",
        "rm",
        "cp",
        "mv",
        "mkdir",
        "chmod",
        "tar",
        "gzip",
        "curl",
        "awk",
        "tr",
        "cut",
        "sha256sum",
        "basename",
        "cat",
    ] {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .output()
            .expect("command -v");
        let found = String::from_utf8_lossy(&found.stdout).trim().to_string();
        assert!(!found.is_empty(), "{tool} is not installed here");
        let _ = std::os::unix::fs::symlink(found, dir.join(tool));
    }
    dir
}

struct Machine {
    home: PathBuf,
    path: PathBuf,
}

impl Machine {
    fn new(work: &Path, name: &str) -> Machine {
        let home = work.join(name);
        std::fs::create_dir_all(&home).expect("home");
        Machine {
            home,
            path: bare_path(work),
        }
    }

    fn env(&self, cmd: &mut Command) {
        cmd.env_clear()
            .env("HOME", &self.home)
            .env("PATH", &self.path)
            .env("LANG", "C.UTF-8");
    }

    fn install(&self, base: &str, version: Option<&str>) -> Output {
        self.install_with(base, version, &[])
    }

    fn install_with(&self, base: &str, version: Option<&str>, env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(self.path.join("sh"));
        cmd.arg(repo().join("scripts/install.sh"));
        self.env(&mut cmd);
        cmd.env("POND_INSTALL_BASE", base);
        if let Some(v) = version {
            cmd.env("POND_VERSION", v);
        }
        cmd.envs(env.iter().copied());
        cmd.output().expect("run install.sh")
    }

    fn pond(&self) -> PathBuf {
        self.home.join(".local/bin/pond")
    }

    fn model(&self) -> PathBuf {
        self.home.join(".cache/pond/models/pond-static-minilm-256")
    }

    fn run(&self, args: &[&str]) -> Value {
        self.run_with(args, &[])
    }

    fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Value {
        let mut cmd = Command::new(self.pond());
        cmd.args(args);
        self.env(&mut cmd);
        cmd.env("POND_HOST", "fresh-laptop");
        cmd.envs(env.iter().copied());
        let out = crate::harness::output_ok(&mut cmd, &format!("the installed pond {args:?}"));
        serde_json::from_slice(&out.stdout).expect("JSON")
    }

    /// Nothing of pond anywhere under HOME.
    fn untouched(&self) -> bool {
        !self.pond().exists() && !self.home.join(".cache/pond").exists()
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// This build packed, published as the latest release and served: the
/// packed files (`dist`), the release page's tree and the install base URL.
struct ReleaseSite {
    /// Where the machines and the release page live; removed on drop.
    work: tempfile::TempDir,
    dist: PathBuf,
    releases: PathBuf,
    base: String,
}

/// Where each install check starts: this build on a release page of its own.
fn release_site() -> ReleaseSite {
    let work = tempfile::tempdir().expect("work dir");
    let dist = dist(work.path());
    let releases = work.path().join("releases");
    publish(&dist, &releases, VERSION, true);
    let base = format!("{}/releases", serve(work.path().to_path_buf()));
    ReleaseSite {
        work,
        dist,
        releases,
        base,
    }
}

#[test]
fn rule51_the_contextual_model_installs_with_one_variable() {
    let site = release_site();
    assert!(
        site.dist
            .join(format!("pond-{VERSION}-{}-transformer.tar.gz", target()))
            .exists(),
        "scripts/dist.sh packed no transformer archive (are `make models`' sources there?)"
    );

    let laptop = Machine::new(site.work.path(), "laptop");
    let out = laptop.install_with(&site.base, None, &[("POND_INSTALL_TRANSFORMER", "1")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("POND_EMBED_MODEL=transformer"),
        "{}",
        stderr(&out)
    );
    let transformer = [("POND_EMBED_MODEL", "transformer")];
    let codex = repo().join("tests/fixtures/codex");
    let synced = laptop.run_with(
        &[
            "sync",
            "codex",
            "--path",
            codex.to_str().expect("utf-8"),
            "--json",
        ],
        &transformer,
    );
    assert_eq!(synced["outcome"], "ok", "{synced}");
    let drained = laptop.run_with(&["model", "reembed", "--json"], &transformer);
    assert!(drained["rows"].as_u64().is_some_and(|n| n > 0), "{drained}");
    let found = laptop.run_with(
        &[
            "search",
            "--json",
            "--limit",
            "3",
            "a chess board in the browser",
        ],
        &transformer,
    );
    assert!(
        found["embed_model"]
            .as_str()
            .is_some_and(|m| m.starts_with("onnx:")),
        "the installed transformer answers: {found}"
    );
    assert_eq!(found["vectors_pending"], 0, "{found}");
    assert!(found["hits"][0]["vector_rank"].is_number(), "{found}");
}

#[test]
fn rule51_the_install_line_gives_a_working_pond_with_hybrid_search() {
    let site = release_site();
    let laptop = Machine::new(site.work.path(), "laptop");
    let started = Instant::now();
    let out = laptop.install(&site.base, None);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(said.contains("verified SHA-256"), "{said}");
    assert!(said.contains("is not on your PATH"), "{said}");
    let fixtures = repo().join("tests/fixtures");
    for (client, dir) in [("claude-code", "claude-code"), ("codex", "codex")] {
        let report = laptop.run(&[
            "sync",
            client,
            "--path",
            fixtures.join(dir).to_str().expect("utf-8"),
            "--json",
        ]);
        assert_eq!(report["outcome"], "ok", "{report}");
    }
    let found = laptop.run(&[
        "search",
        "--json",
        "--limit",
        "3",
        "how did we handle the error",
    ]);
    let first_answer = started.elapsed();
    assert_eq!(found["mode"], "hybrid", "{found}");
    // Vectors on, from the model the archive brought (no PyPI here).
    assert!(
        found["embed_model"]
            .as_str()
            .is_some_and(|m| m.starts_with("pond-static")),
        "{found}"
    );
    assert!(found["hits"][0]["vector_rank"].is_number(), "{found}");
    assert!(
        !found["hits"].as_array().expect("hits").is_empty(),
        "{found}"
    );
    eprintln!(
        "from nothing to the first search answer: {:.1} s (install, two syncs, one search)",
        first_answer.as_secs_f64()
    );
    let version = laptop.run(&["version", "--json"]);
    assert_eq!(version["version"], VERSION);
    assert_eq!(version["target"], target());
    assert!(laptop.home.join(".local/share/man/man1/pond.1").exists());

    // A second run upgrades in place to the latest release.
    publish(&site.dist, &site.releases, "99.0.0", true);
    let installed = std::fs::metadata(laptop.pond()).expect("installed");
    let out = laptop.install(&site.base, None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("upgraded"), "{}", stderr(&out));
    let replaced = std::fs::metadata(laptop.pond()).expect("still installed");
    use std::os::unix::fs::MetadataExt;
    assert_ne!(
        installed.ino(),
        replaced.ino(),
        "the binary was not replaced"
    );
    let again = laptop.run(&["search", "--json", "--limit", "1", "error"]);
    assert_eq!(again["mode"], "hybrid", "{again}");
}

#[test]
fn rule51_a_tampered_or_missing_download_installs_nothing() {
    let site = release_site();
    // One byte of the archive changed after SHA256SUMS was written.
    let archive = site
        .releases
        .join("download")
        .join(format!("v{VERSION}"))
        .join(format!("pond-{VERSION}-{}.tar.gz", target()));
    let mut bytes = std::fs::read(&archive).expect("archive");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&archive, bytes).expect("tamper");
    let laptop = Machine::new(site.work.path(), "tampered");
    let out = laptop.install(&site.base, None);
    assert!(!out.status.success(), "a tampered archive was installed");
    assert!(
        stderr(&out).contains("checksum mismatch"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("nothing was installed"));
    assert!(laptop.untouched(), "a refused install left files");

    // A version that was never released, and a server that is not there.
    let laptop = Machine::new(site.work.path(), "missing");
    let out = laptop.install(&site.base, Some("0.0.1"));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("could not download"),
        "{}",
        stderr(&out)
    );
    let out = laptop.install("http://127.0.0.1:9/releases", None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("latest version"), "{}", stderr(&out));
    assert!(laptop.untouched());
    assert!(!laptop.model().exists());
}

/// `cargo binstall pond` reads `[package.metadata.binstall]`: its URL and
/// binary path, filled in as binstall fills them, must name the archive
/// `scripts/dist.sh` makes and the binary inside it.
#[test]
fn binstall_metadata_names_the_release_archive_and_its_binary() {
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).expect("Cargo.toml");
    let field = |key: &str| {
        manifest
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key} = \"")))
            .and_then(|rest| rest.strip_suffix('"'))
            .unwrap_or_else(|| panic!("no {key} in [package.metadata.binstall]"))
            .to_string()
    };
    let target = target();
    let fill = |template: String| {
        template
            .replace("{ repo }", "https://github.com/your-org/pond")
            .replace("{ version }", VERSION)
            .replace("{ target }", &target)
            .replace("{ bin }", "pond")
            .replace("{ binary-ext }", "")
    };
    let url = fill(field("pkg-url"));
    let archive = format!("pond-{VERSION}-{target}.tar.gz");
    assert_eq!(
        url,
        format!("https://github.com/your-org/pond/releases/download/v{VERSION}/{archive}")
    );
    let work = tempfile::tempdir().expect("work dir");
    let dist = dist(work.path());
    let listing = Command::new("tar")
        .arg("-tzf")
        .arg(dist.join(&archive))
        .output()
        .expect("tar -tzf");
    let listing = String::from_utf8_lossy(&listing.stdout);
    let bin_dir = fill(field("bin-dir"));
    assert!(
        listing.lines().any(|l| l == bin_dir),
        "{bin_dir} is not in {archive}:\n{listing}"
    );
}
