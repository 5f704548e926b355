//! Who runs each host, for usage grouped by person (`pond usage --by
//! user`). Off unless a host's config says `[usage] record_user = true`:
//! then each sync leaves `_pond/users/<host>.json` naming the host's user
//! (or `[usage] user`, such as the git author a CI job acts for). The
//! calls themselves name no person; a report maps each call's host to the
//! last user recorded for it, and calls of hosts that recorded none are
//! `unknown`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::upkeep::lease;
use crate::store::{Store, StoreError};

/// Where hosts leave who runs them, under `_pond/`.
const USERS: &str = "users";

/// One host's person.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostUser {
    pub host: String,
    pub user: String,
    pub recorded_at: DateTime<Utc>,
}

/// The person this process runs for: `configured`, else the OS user.
pub fn current_user(configured: Option<&str>) -> Option<String> {
    configured
        .map(str::to_string)
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
}

/// Leaves `user` as the person of `host`; a failure only loses the grouping.
pub async fn record(store: &Store, host: &str, user: &str) {
    let record = HostUser {
        host: host.to_string(),
        user: user.to_string(),
        recorded_at: Utc::now(),
    };
    let name = format!(
        "{}.json",
        pond_adapters::digest::sha256_hex(host.as_bytes())
    );
    if let Err(e) = lease::write_json(store.location(), USERS, &name, &record).await {
        tracing::warn!(error = %e, "who runs this host was not recorded");
    }
}

/// Each host's person, as recorded.
pub async fn by_host(store: &Store) -> Result<HashMap<String, String>, StoreError> {
    let records: Vec<HostUser> = lease::read_all_json(store.location(), USERS).await?;
    Ok(records.into_iter().map(|r| (r.host, r.user)).collect())
}
