//! Reading a client's SQLite database without disturbing the client.
//!
//! Clients keep their database open and write through a WAL, so opening the
//! live file could see a half-checkpointed state or hold a lock the client
//! needs. pond copies the database with its `-wal` file into a private
//! temporary directory and reads the copy read-only: the client is never
//! blocked, and a sync reads one consistent snapshot.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::limits::Limit;
use rusqlite::{Connection, OpenFlags};
use serde_json::{Map, Value};

use crate::adapter::{SourceError, SourceErrorKind};

/// A read-only connection to a private copy of a database; the copy is
/// removed when this is dropped.
pub struct Snapshot {
    pub conn: Connection,
    dir: PathBuf,
    /// The database copied, which errors name.
    db: PathBuf,
}

impl Snapshot {
    /// [`rows`] of the copy, failing as the database being malformed.
    pub fn rows(&self, sql: &str) -> Result<Vec<Value>, SourceError> {
        rows(&self.conn, sql).map_err(SourceError::at(&self.db, SourceErrorKind::Malformed))
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The largest single value (text or blob) read from a database. Databases
/// arrive from other hosts too (`pond serve`'s ingest), and one crafted row
/// must not make pond allocate gigabytes; real clients' largest values
/// (Cursor's composer state) are a few MB.
const MAX_VALUE_BYTES: i32 = 256 << 20;
/// How long all the reads of one snapshot may take before SQLite is told to
/// stop: a crafted schema (recursive views, huge joins) must not hold a sync
/// or a server forever.
const READ_TIME_LIMIT: Duration = Duration::from_secs(300);
/// SQLite VM steps between checks of the time limit.
const PROGRESS_STEPS: i32 = 100_000;

/// Copies `db` (and its `-wal`, when present) and opens the copy read-only.
pub fn snapshot(db: &Path) -> Result<Snapshot, SourceError> {
    snapshot_within(db, MAX_VALUE_BYTES, READ_TIME_LIMIT)
}

/// [`snapshot`] of a database that must hold `tables` ([`require_tables`]).
pub fn snapshot_with_tables(
    db: &Path,
    tables: &[&str],
    client: &str,
) -> Result<Snapshot, SourceError> {
    let snap = snapshot(db)?;
    require_tables(&snap.conn, db, tables, client)?;
    Ok(snap)
}

fn snapshot_within(
    db: &Path,
    max_value: i32,
    time_limit: Duration,
) -> Result<Snapshot, SourceError> {
    let unreadable = SourceError::at(db, SourceErrorKind::Unreadable);
    let unsupported = SourceError::at(db, SourceErrorKind::Unsupported);
    let dir = std::env::temp_dir().join(format!(
        "pond-sqlite-{}-{:016x}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir)
        .map_err(|e| unreadable(format!("cannot make a snapshot dir: {e}")))?;
    let copy = dir.join("db.sqlite");
    let result = (|| {
        // Rule 32: a locked or live database is read from a private copy, never waited on.
        std::fs::copy(db, &copy)
            .map_err(|e| unreadable(format!("cannot copy the database: {e}")))?;
        let wal = wal_path(db);
        if wal.is_file() {
            std::fs::copy(&wal, wal_path(&copy))
                .map_err(|e| unreadable(format!("cannot copy the database's WAL: {e}")))?;
        }
        // Read-write on the private copy only so SQLite can replay the WAL
        // into it; the client's files are never opened.
        let conn = Connection::open_with_flags(
            &copy,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| unsupported(format!("not a readable SQLite database: {e}")))?;
        conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, max_value)
            .map_err(|e| unreadable(format!("cannot limit value sizes: {e}")))?;
        let started = Instant::now();
        conn.progress_handler(PROGRESS_STEPS, Some(move || started.elapsed() > time_limit));
        conn.query_row("PRAGMA schema_version", [], |_| Ok(()))
            .map_err(|e| unsupported(format!("not a readable SQLite database: {e}")))?;
        Ok(conn)
    })();
    match result {
        Ok(conn) => Ok(Snapshot {
            conn,
            dir,
            db: db.to_path_buf(),
        }),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

pub fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// Whether the database has a table of this name.
pub fn has_table(conn: &Connection, table: &str) -> bool {
    conn.query_row(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [table],
        |_| Ok(()),
    )
    .is_ok()
}

/// Fails as [`SourceErrorKind::Unsupported`] unless the database has every
/// one of `tables`: a file with a client's name that its client did not
/// write, or a schema from before the one the adapter reads.
pub fn require_tables(
    conn: &Connection,
    db: &Path,
    tables: &[&str],
    client: &str,
) -> Result<(), SourceError> {
    match tables.iter().find(|t| !has_table(conn, t)) {
        None => Ok(()),
        Some(_) => Err(SourceError::new(
            db,
            SourceErrorKind::Unsupported,
            format!(
                "no {} tables; not {client} database",
                tables
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        )),
    }
}

/// Every row of `sql` as a JSON object keyed by column name. Text that holds
/// JSON stays a string (the adapter decides what to parse); blobs become
/// UTF-8 text when they are, else base64-free hex, so no byte is dropped.
pub fn rows(conn: &Connection, sql: &str) -> Result<Vec<Value>, String> {
    let mut stmt = conn
        .prepare(sql)
        .map_err(|e| format!("cannot query `{sql}`: {e}"))?;
    let names: Vec<String> = stmt.column_names().iter().map(|n| n.to_string()).collect();
    let mut out = Vec::new();
    let mut rows = stmt
        .query([])
        .map_err(|e| format!("cannot query `{sql}`: {e}"))?;
    loop {
        let row = match rows.next() {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(rusqlite::Error::SqliteFailure(f, _))
                if f.code == rusqlite::ErrorCode::OperationInterrupted =>
            {
                return Err(format!(
                    "reading `{sql}` took longer than the {}s allowed for one database",
                    READ_TIME_LIMIT.as_secs()
                ));
            }
            Err(e) => return Err(format!("cannot read a row of `{sql}`: {e}")),
        };
        let mut object = Map::new();
        for (i, name) in names.iter().enumerate() {
            let value = match row.get_ref(i) {
                Ok(rusqlite::types::ValueRef::Null) | Err(_) => Value::Null,
                Ok(rusqlite::types::ValueRef::Integer(n)) => Value::from(n),
                Ok(rusqlite::types::ValueRef::Real(x)) => Value::from(x),
                Ok(rusqlite::types::ValueRef::Text(t)) => {
                    Value::String(String::from_utf8_lossy(t).into_owned())
                }
                Ok(rusqlite::types::ValueRef::Blob(b)) => match std::str::from_utf8(b) {
                    Ok(text) => Value::String(text.to_string()),
                    Err(_) => Value::String(b.iter().map(|x| format!("{x:02x}")).collect()),
                },
            };
            object.insert(name.clone(), value);
        }
        out.push(Value::Object(object));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database(dir: &Path, setup: &str) -> PathBuf {
        let path = dir.join("client.db");
        let conn = Connection::open(&path).expect("create");
        conn.execute_batch(setup).expect("setup");
        path
    }

    #[test]
    fn a_value_beyond_the_length_limit_is_an_error_not_an_allocation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database(
            dir.path(),
            "CREATE TABLE t(v); INSERT INTO t VALUES (zeroblob(2000000));",
        );
        let snap = snapshot_within(&db, 1_000_000, READ_TIME_LIMIT).expect("snapshot");
        let err = rows(&snap.conn, "SELECT v FROM t").expect_err("refused");
        assert!(err.contains("too big"), "{err}");
    }

    #[test]
    fn a_read_past_the_time_limit_is_stopped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database(
            dir.path(),
            "CREATE TABLE t(v); CREATE VIEW forever AS WITH RECURSIVE c(x) AS \
             (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c;",
        );
        let snap =
            snapshot_within(&db, MAX_VALUE_BYTES, Duration::from_millis(200)).expect("snapshot");
        let started = Instant::now();
        let err = rows(&snap.conn, "SELECT n FROM forever").expect_err("stopped");
        assert!(err.contains("took longer"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(60));
    }
}
