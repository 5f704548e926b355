//! Facts about this build for `pond --version`: the commit, when it was
//! built and for which target. A release sets `POND_GIT_COMMIT` and
//! `SOURCE_DATE_EPOCH` so the same commit builds the same binary; a build
//! from a clone asks git.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=POND_GIT_COMMIT");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        println!("cargo:rerun-if-changed={head}");
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(reference) = git(&["rev-parse", "--git-path", &branch])
    {
        println!("cargo:rerun-if-changed={reference}");
    }

    let commit = std::env::var("POND_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    // The commit's time unless a release says otherwise: rebuilding the same
    // commit gives the same binary, and an edit does not rebuild for the clock.
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .or_else(|| git(&["log", "-1", "--format=%ct"]))
        .and_then(|e| e.parse::<i64>().ok())
        .unwrap_or(0);
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=POND_BUILD_DATE={}", civil_date(epoch));
    println!("cargo:rustc-env=POND_BUILD_COMMIT={commit}");
    println!("cargo:rustc-env=POND_BUILD_EPOCH={epoch}");
    println!("cargo:rustc-env=POND_BUILD_TARGET={target}");
}

/// `YYYY-MM-DD` (UTC) of a Unix time, without a date crate in the build.
fn civil_date(epoch: i64) -> String {
    // Howard Hinnant's days-to-civil algorithm.
    let z = epoch.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
