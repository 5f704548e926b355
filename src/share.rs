//! Share links: one session, readable by whoever holds its link and by no
//! one else, until the link expires or is revoked (`pond share`, `/s/{id}`).
//!
//! A share is a record in the store (`_pond/shares/<digest>.json`), so every
//! server of the archive honours it, and a revoke reaches all of them at the
//! next view: no server caches a share. The record is named by the SHA-256
//! of the link's id, so a lookup hashes whatever it is handed and reads one
//! object: a malformed id, an unknown one and a nearly right one cost the
//! same. Each view leaves one empty mark (`_pond/share-views/<digest>/…`),
//! so servers count views without sharing a counter.

use chrono::{DateTime, Utc};
use pond_adapters::digest::sha256_hex;
use serde::{Deserialize, Serialize};

use crate::store::upkeep::lease;
use crate::store::{Store, StoreError};

/// Where share records live, under `_pond/`.
const SHARES: &str = "shares";
/// Where each share's view marks live, one folder per share.
const VIEWS: &str = "share-views";
/// Random bytes in a link's id: 192 bits, beyond guessing.
const ID_BYTES: usize = 24;

/// One share: which session, how it is shown, until when.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Share {
    /// The link's id, the secret part of `/s/{id}`.
    pub id: String,
    /// The session shown (its whole key).
    pub session_id: String,
    pub created_at: DateTime<Utc>,
    /// When the link stops working; never when absent.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Secrets masked in what the link shows (the default).
    pub redact: bool,
    /// The session's source files may be downloaded through the link.
    #[serde(default)]
    pub raw: bool,
    /// Who made it: `cli@<host>` or the token's name.
    pub created_by: String,
    #[serde(default)]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Share {
    /// `live`, `expired` or `revoked`, at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at.is_some_and(|t| t <= now) {
            "expired"
        } else {
            "live"
        }
    }
}

/// A share as `pond share list` and the session page show it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ShareLine {
    #[serde(flatten)]
    pub share: Share,
    pub state: &'static str,
    pub views: u64,
    pub last_view: Option<DateTime<Utc>>,
}

/// What a presented id names.
#[derive(Debug)]
pub enum Lookup {
    Live(Share),
    /// Expired or revoked: the link existed.
    Ended(Share),
    Unknown,
}

#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    #[error("no share `{0}` (see `pond share list`)")]
    Unknown(String),
    #[error("cannot read random bytes for a share id: {0}")]
    Random(getrandom::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a new share shows, and for how long.
#[derive(Debug, Clone)]
pub struct ShareAsk {
    pub session_id: String,
    /// `None`: never expires.
    pub lasts: Option<std::time::Duration>,
    pub redact: bool,
    pub raw: bool,
    pub created_by: String,
}

fn record_name(id: &str) -> String {
    format!("{}.json", sha256_hex(id.as_bytes()))
}

fn views_scope(id: &str) -> String {
    format!("{VIEWS}/{}", sha256_hex(id.as_bytes()))
}

/// Makes a share of `ask.session_id` (a session key the caller resolved and
/// may see) and keeps it in the store.
pub async fn create(store: &Store, ask: ShareAsk) -> Result<Share, ShareError> {
    let mut secret = [0u8; ID_BYTES];
    getrandom::fill(&mut secret).map_err(ShareError::Random)?;
    let id: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let now = Utc::now();
    let share = Share {
        session_id: ask.session_id,
        created_at: now,
        expires_at: ask
            .lasts
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .map(|d| now + d),
        redact: ask.redact,
        raw: ask.raw,
        created_by: ask.created_by,
        revoked_at: None,
        id,
    };
    lease::write_json(store.location(), SHARES, &record_name(&share.id), &share).await?;
    Ok(share)
}

/// What `presented` (an id, or a whole link) names, at `now`.
pub async fn lookup(
    store: &Store,
    presented: &str,
    now: DateTime<Utc>,
) -> Result<Lookup, StoreError> {
    let id = id_of(presented);
    let found: Option<Share> = lease::read_json(store.location(), SHARES, &record_name(id)).await?;
    Ok(match found {
        // The record is named by the id's digest; the id inside must match
        // too, or a damaged record could answer for another id.
        Some(share) if share.id == id && share.state(now) == "live" => Lookup::Live(share),
        Some(share) if share.id == id => Lookup::Ended(share),
        _ => Lookup::Unknown,
    })
}

/// The id in a link (`https://host/s/<id>`), or the id as given.
fn id_of(presented: &str) -> &str {
    let trimmed = presented.trim().trim_end_matches('/');
    trimmed.rsplit_once("/s/").map_or(trimmed, |(_, id)| id)
}

/// Every share (of one session, when given), newest first, with its views.
pub async fn list(store: &Store, session_id: Option<&str>) -> Result<Vec<ShareLine>, StoreError> {
    let now = Utc::now();
    let mut shares: Vec<Share> = lease::read_all_json(store.location(), SHARES).await?;
    shares.retain(|s| session_id.is_none_or(|want| s.session_id == want));
    shares.sort_by_key(|s| std::cmp::Reverse(s.created_at));
    let mut lines = Vec::with_capacity(shares.len());
    for share in shares {
        let marks = lease::list_marks(store.location(), &views_scope(&share.id)).await?;
        lines.push(ShareLine {
            state: share.state(now),
            views: marks.len() as u64,
            last_view: marks.into_iter().max(),
            share,
        });
    }
    Ok(lines)
}

/// Ends the share `presented` names (an id or a link) for every server.
pub async fn revoke(store: &Store, presented: &str) -> Result<Share, ShareError> {
    let id = id_of(presented);
    let found: Option<Share> = lease::read_json(store.location(), SHARES, &record_name(id)).await?;
    let Some(mut share) = found.filter(|s| s.id == id) else {
        return Err(ShareError::Unknown(id.to_string()));
    };
    if share.revoked_at.is_none() {
        share.revoked_at = Some(Utc::now());
        lease::write_json(store.location(), SHARES, &record_name(id), &share).await?;
    }
    Ok(share)
}

/// Revokes every live share of these sessions (they are being erased);
/// returns how many.
pub async fn revoke_sessions(store: &Store, session_ids: &[String]) -> Result<usize, StoreError> {
    let shares: Vec<Share> = lease::read_all_json(store.location(), SHARES).await?;
    let now = Utc::now();
    let mut ended = 0;
    for mut share in shares {
        if share.revoked_at.is_none() && session_ids.contains(&share.session_id) {
            share.revoked_at = Some(now);
            lease::write_json(store.location(), SHARES, &record_name(&share.id), &share).await?;
            ended += 1;
        }
    }
    Ok(ended)
}

/// Counts one view of `share`; a failure loses only the count.
pub async fn note_view(store: &Store, share: &Share) {
    let mut nonce = [0u8; 8];
    let _ = getrandom::fill(&mut nonce);
    let name = format!(
        "{}-{}.json",
        Utc::now().timestamp_micros(),
        nonce.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    if let Err(e) = lease::write_json(store.location(), &views_scope(&share.id), &name, &()).await {
        tracing::warn!(error = %e, "a share's view was not counted");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_or_its_id_names_the_same_share() {
        assert_eq!(id_of("https://pond.example/s/abc123"), "abc123");
        assert_eq!(id_of("http://127.0.0.1:7474/s/abc123/"), "abc123");
        assert_eq!(id_of(" abc123 "), "abc123");
    }

    #[test]
    fn a_share_ends_when_revoked_or_past_its_time() {
        let now = Utc::now();
        let mut share = Share {
            id: "x".into(),
            session_id: "claude-code:s".into(),
            created_at: now,
            expires_at: Some(now + chrono::Duration::hours(1)),
            redact: true,
            raw: false,
            created_by: "cli@laptop".into(),
            revoked_at: None,
        };
        assert_eq!(share.state(now), "live");
        assert_eq!(share.state(now + chrono::Duration::hours(2)), "expired");
        share.revoked_at = Some(now);
        assert_eq!(share.state(now), "revoked");
        share.expires_at = None;
        share.revoked_at = None;
        assert_eq!(share.state(now + chrono::Duration::days(9999)), "live");
    }
}
