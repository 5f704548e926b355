//! Where the fleet syncs to: a local directory, an S3 bucket, or a
//! `pond serve` in front of the store for pushes.

use super::*;

pub(super) fn s3_env(endpoint: &str) -> [(&'static str, String); 5] {
    [
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "bench".into()),
        ("AWS_SECRET_ACCESS_KEY", "bench".into()),
        ("AWS_ALLOW_HTTP", "true".into()),
    ]
}

/// The same settings as store options, for the in-process open: this
/// process has no AWS variables of its own.
pub(super) fn s3_options(endpoint: &str) -> Vec<(String, String)> {
    [
        ("aws_endpoint", endpoint),
        ("aws_region", "us-east-1"),
        ("aws_access_key_id", "bench"),
        ("aws_secret_access_key", "bench"),
        ("allow_http", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

pub(super) fn create_bucket(endpoint: &str, bucket: &str) {
    let response = crate::probe_store::command_checks::put_bucket(endpoint, bucket);
    // A bucket kept from an earlier run is fine: the bench then adds to it.
    assert!(
        response.starts_with("HTTP/1.1 200") || response.contains("BucketAlreadyOwnedByYou"),
        "{response}"
    );
}

/// Sets the mtime of every file under `dir` to `when` (GNU touch's date).
pub(super) fn age_files(dir: &Path, when: &str) {
    let status = Command::new("find")
        .arg(dir)
        .args(["-type", "f", "-exec", "touch", "-m", "-d", when, "{}", "+"])
        .status()
        .expect("spawn find");
    assert!(status.success(), "ageing the store's files failed");
}

/// Starts `pond serve` on loopback in front of the store; its child and URL.
pub(super) fn start_server(fleet: &Fleet, target: &Target) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut cmd = fleet.pond(target, 99);
    cmd.env("POND_HOST", "push-server")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn pond serve");
    let stderr = child.stderr.take().expect("server stderr");
    let mut lines = std::io::BufReader::new(stderr).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            let at = line.find("on http://")?;
            let rest = &line[at + "on http://".len()..];
            rest.split_whitespace().next().map(str::to_string)
        })
        .expect("pond serve said where it listens");
    // Keep draining, so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
    (child, format!("http://{addr}"))
}

/// The store URL, creating the bucket first for an S3 store.
pub(super) fn store_url(settings: &Settings, work: &Path, s3_endpoint: Option<&str>) -> String {
    let Some(url) = settings.store.clone() else {
        return work.join("store").display().to_string();
    };
    if let Some(rest) = url.strip_prefix("s3://") {
        let endpoint = s3_endpoint.expect("an s3:// FLEET_STORE needs POND_TEST_S3_ENDPOINT");
        let bucket = rest.split('/').next().expect("bucket in FLEET_STORE");
        create_bucket(endpoint, bucket);
    }
    url
}
