//! The server's own copies of pushed files (the mirrors `/v1/ingest` runs
//! the sync pipeline over): kept owner-only, and purged of every file that
//! holds an erased session.
//!
//! An erasure is recorded in the store by whichever host runs it, while the
//! pushed bytes sit on the server's disk, outside the store, where no
//! compaction or pruning reaches. So the server purges its spool when it
//! starts and whenever the store's tombstones change, and `pond erase`
//! purges the default spool of the machine it runs on (rule 44).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::sync::cursor::Cursors;

/// Each mirror's note of whose files it holds, so a purge can read them as
/// the pipeline does without knowing the digest's inputs. It sits beside
/// the mirror and is written before the mirror exists, so a purge never
/// mistakes a mirror being made for one an older pond left without a note.
fn origin_path(mirror: &Path) -> PathBuf {
    mirror.with_extension("origin.json")
}

/// The host, client and root a mirror's files came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Origin {
    pub host: String,
    pub client: String,
    pub root: String,
}

/// Where `pond serve` keeps the mirrors of pushes into the store `store_key`
/// unless told otherwise (`--spool`).
pub fn default_dir(store_key: &str) -> PathBuf {
    crate::paths::state_dir().join("ingest").join(store_key)
}

/// Creates `dir` and its missing parents readable by the owner alone.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    owner_only(dir)
}

/// Makes an existing file or directory readable by its owner alone.
pub fn owner_only(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if path.is_dir() { 0o700 } else { 0o600 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// Prepares a mirror for a push: its directories owner-only, its origin
/// noted.
pub fn prepare_mirror(spool: &Path, mirror: &Path, origin: &Origin) -> std::io::Result<()> {
    private_dir(spool)?;
    let note = origin_path(mirror);
    if !note.is_file() {
        let json = serde_json::to_vec(origin).map_err(std::io::Error::other)?;
        crate::paths::write_atomic(&note, &json)?;
        owner_only(&note)?;
    }
    private_dir(&mirror.join("files"))?;
    private_dir(&mirror.join("state"))
}

/// Makes every file and directory of `mirror` owner-only: the sync
/// pipeline that runs over it writes its cursors and records with the
/// process's default mode.
pub fn lock_down(mirror: &Path) {
    for entry in walkdir::WalkDir::new(mirror)
        .into_iter()
        .filter_map(Result::ok)
    {
        let _ = owner_only(entry.path());
    }
}

/// What a purge did.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct SpoolPurge {
    /// Mirrored files removed because they held an erased session.
    pub files_removed: u64,
    /// Cursors of erased sessions removed from the mirrors' sync state.
    pub cursors_removed: u64,
    /// Mirrors without an origin note (made by an older pond): their files
    /// cannot be read as their client's, so they were removed whole.
    pub mirrors_removed: u64,
}

impl SpoolPurge {
    pub fn is_empty(&self) -> bool {
        *self == SpoolPurge::default()
    }
}

/// Removes from every mirror under `spool` the files that hold a session of
/// `erased`, with their cursors, and makes what stays owner-only. Blocking:
/// it reads files as their client's adapter does.
pub fn purge(spool: &Path, store_key: &str, erased: &HashSet<String>) -> SpoolPurge {
    let mut done = SpoolPurge::default();
    let Ok(mirrors) = std::fs::read_dir(spool) else {
        return done;
    };
    let _ = owner_only(spool);
    for mirror in mirrors.filter_map(Result::ok).map(|e| e.path()) {
        if !mirror.is_dir() {
            let _ = owner_only(&mirror);
            continue;
        }
        let origin = std::fs::read(origin_path(&mirror))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Origin>(&bytes).ok());
        let Some(origin) = origin else {
            // Nothing says whose files these are; the senders send them
            // again whole when the server no longer holds them.
            if !erased.is_empty() && std::fs::remove_dir_all(&mirror).is_ok() {
                done.mirrors_removed += 1;
            }
            continue;
        };
        purge_mirror(&mirror, &origin, store_key, erased, &mut done);
    }
    if !done.is_empty() {
        tracing::info!(
            files = done.files_removed,
            cursors = done.cursors_removed,
            mirrors = done.mirrors_removed,
            "removed the pushed copies of erased sessions"
        );
    }
    done
}

fn purge_mirror(
    mirror: &Path,
    origin: &Origin,
    store_key: &str,
    erased: &HashSet<String>,
    done: &mut SpoolPurge,
) {
    lock_down(mirror);
    if erased.is_empty() {
        return;
    }
    let Some(adapter) = crate::registry::by_name(&origin.client) else {
        return;
    };
    for file in adapter.discover(&mirror.join("files")).files {
        let holds_erased = match crate::sync::sessions_in(adapter.as_ref(), &origin.host, &file) {
            Ok(sessions) => sessions.iter().any(|s| erased.contains(s)),
            // A file the pipeline cannot read stored nothing it could erase,
            // but its bytes may still name the session: not kept either.
            Err(_) => true,
        };
        if !holds_erased {
            continue;
        }
        for companion in ["", "-wal", "-shm"] {
            let mut name = file.path.clone().into_os_string();
            name.push(companion);
            if std::fs::remove_file(PathBuf::from(name)).is_ok() && companion.is_empty() {
                done.files_removed += 1;
            }
        }
    }
    let mut cursors = Cursors::load(&mirror.join("state"), store_key);
    let before = cursors.files.len();
    cursors
        .files
        .retain(|_, cursor| !erased.contains(&cursor.session_id));
    let removed = (before - cursors.files.len()) as u64;
    if removed > 0 && cursors.save().is_ok() {
        done.cursors_removed += removed;
    }
}
