//! The per-host single-flight lock: one sync per store per host at a time.
//!
//! An OS file lock (`flock`) rather than a pid file, because the kernel drops
//! it when the holder dies, so a crash never leaves a lock that blocks forever.
//! The lock file is never unlinked (unlinking would let a waiter and a newcomer
//! lock two different inodes); its content only names the current holder.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who holds the lock, as written into the lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub started_at: DateTime<Utc>,
}

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct SyncLock {
    /// `None` when the filesystem refused locks and the sync runs unlocked.
    file: Option<File>,
    pub path: PathBuf,
}

pub enum Acquired {
    Locked(SyncLock),
    /// `--no-wait` and another process holds it.
    Busy(Option<Holder>),
}

pub fn lock_path(state_dir: &Path, store_key: &str) -> PathBuf {
    state_dir.join(format!("sync-{store_key}.lock"))
}

fn open(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// Takes the lock. Without `no_wait`, blocks until it is free, calling
/// `on_wait` once with the current holder first.
pub fn acquire(
    path: &Path,
    no_wait: bool,
    on_wait: impl FnOnce(Option<&Holder>),
) -> std::io::Result<Acquired> {
    let file = open(path)?;
    // Rule 7: one sync per host and store holds the flock; a second waits, or
    // with `--no-wait` reports the holder and skips.
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let holder = read_holder(path);
            if no_wait {
                return Ok(Acquired::Busy(holder));
            }
            on_wait(holder.as_ref());
            file.lock()?;
        }
        Err(TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
            tracing::warn!(
                "{} does not support file locks; syncing without the single-flight lock",
                path.display()
            );
            return Ok(Acquired::Locked(SyncLock {
                file: None,
                path: path.to_path_buf(),
            }));
        }
        Err(TryLockError::Error(e)) => return Err(e),
    }
    let mut lock = SyncLock {
        file: Some(file),
        path: path.to_path_buf(),
    };
    lock.write_holder(&Holder {
        pid: std::process::id(),
        started_at: Utc::now(),
    })?;
    Ok(Acquired::Locked(lock))
}

impl SyncLock {
    /// Whether the kernel lock is really held. On a filesystem without locks
    /// pond runs without one, and must then not do what only the lock makes
    /// safe (appending a file's records without comparing keys).
    pub fn is_held(&self) -> bool {
        self.file.is_some()
    }

    fn write_holder(&mut self, holder: &Holder) -> std::io::Result<()> {
        if let Some(f) = self.file.as_mut() {
            let json = serde_json::to_vec(holder).map_err(std::io::Error::other)?;
            f.set_len(0)?;
            f.seek(SeekFrom::Start(0))?;
            f.write_all(&json)?;
            f.flush()?;
        }
        Ok(())
    }
}

impl Drop for SyncLock {
    fn drop(&mut self) {
        // Clear the holder so status does not show a finished sync; the lock
        // itself goes with the file handle.
        if let Some(f) = self.file.as_mut() {
            let _ = f.set_len(0);
        }
    }
}

/// The holder named in the lock file, if any.
pub fn read_holder(path: &Path) -> Option<Holder> {
    let mut s = String::new();
    File::open(path).ok()?.read_to_string(&mut s).ok()?;
    serde_json::from_str(&s).ok()
}

/// The current holder if the lock is taken right now (for `pond status`).
pub fn current_holder(path: &Path) -> Option<Holder> {
    let file = File::open(path).ok()?;
    match file.try_lock_shared() {
        Ok(()) => None,
        Err(_) => read_holder(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule7_a_lock_the_filesystem_refused_is_not_held() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = lock_path(dir.path(), "k");
        let unlocked = SyncLock {
            file: None,
            path: path.clone(),
        };
        assert!(!unlocked.is_held());
        match acquire(&path, true, |_| {}).expect("lock") {
            Acquired::Locked(lock) => assert!(lock.is_held()),
            Acquired::Busy(_) => panic!("nobody else holds it"),
        }
    }
}

/// The lock between this host's pushes (`pond sync --to`) and its direct
/// syncs. A direct sync appends a new file's records without comparing
/// keys because its host lock keeps every other writer of that file away;
/// a push from the same host is another writer of the same file (the
/// server stores it under this host's name), and a plain append does not
/// conflict with the server's keyed insert. So a push holds this lock
/// exclusively for its run, and a direct sync appends only while it holds
/// it shared.
pub fn push_lock_path(state_dir: &Path) -> PathBuf {
    state_dir.join("push.lock")
}

/// A hold on the push lock; released when dropped.
#[derive(Debug)]
pub struct PushLock {
    _file: File,
}

/// Takes the push lock exclusively (a push), waiting for direct syncs that
/// hold it shared. `None` on a filesystem without locks.
pub fn hold_for_push(state_dir: &Path) -> std::io::Result<Option<PushLock>> {
    let file = open(&push_lock_path(state_dir))?;
    match file.lock() {
        Ok(()) => Ok(Some(PushLock { _file: file })),
        Err(e) if e.kind() == std::io::ErrorKind::Unsupported => Ok(None),
        Err(e) => Err(e),
    }
}

/// Takes the push lock shared (a direct sync) if no push holds it now;
/// `None` when one does, or locks are unsupported: the sync then keys
/// every write.
pub fn hold_unless_pushing(state_dir: &Path) -> Option<PushLock> {
    let file = open(&push_lock_path(state_dir)).ok()?;
    match file.try_lock_shared() {
        Ok(()) => Some(PushLock { _file: file }),
        Err(_) => None,
    }
}
