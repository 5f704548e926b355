//! Signed-in browsers, by a random session id the cookie carries instead of
//! the token.
//!
//! Browsers send a host's cookies to every port of that host, so any other
//! service on the server's machine would read a token kept in a cookie, and
//! a token works until it is revoked. A session id works only here, ends
//! when it is unused for a while, at sign-out, and as soon as its token is
//! revoked, and the server keeps only its hash.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pond_adapters::digest::sha256_hex;

use crate::access::{Grant, TokenEntry};

/// A signed-in browser left unused this long must sign in again.
pub const IDLE: Duration = Duration::from_secs(8 * 3600);
/// Sessions kept at most; past it the least recently used ends, so sign-ins
/// cannot grow the server's memory without bound.
const MAX_SESSIONS: usize = 10_000;

pub struct BrowserSessions {
    idle: Duration,
    /// By the SHA-256 of the session id.
    by_id: Mutex<HashMap<String, Session>>,
}

struct Session {
    /// The stored hash of the token signed in with: the token, by its
    /// current entry, decides what the session may do.
    token_hash: String,
    last_used: Instant,
}

impl Default for BrowserSessions {
    fn default() -> Self {
        BrowserSessions::new(IDLE)
    }
}

impl BrowserSessions {
    pub fn new(idle: Duration) -> BrowserSessions {
        BrowserSessions {
            idle,
            by_id: Mutex::new(HashMap::new()),
        }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        match self.by_id.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// A new session for the token whose entry is `entry`: its id, for the
    /// cookie.
    pub fn open(&self, entry: &TokenEntry) -> Result<String, getrandom::Error> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret)?;
        let id: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        let now = Instant::now();
        let mut sessions = self.sessions();
        sessions.retain(|_, s| now.duration_since(s.last_used) < self.idle);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| k.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(
            sha256_hex(id.as_bytes()),
            Session {
                token_hash: entry.hash.clone(),
                last_used: now,
            },
        );
        Ok(id)
    }

    /// What the session `id` may do now: its token's grant, if the session
    /// is known, was used within the idle time, and its token is among
    /// `tokens` still. A session that fails any of these ends.
    pub fn grant(&self, id: &str, tokens: &[TokenEntry]) -> Option<Grant> {
        self.grant_at(id, tokens, Instant::now())
    }

    fn grant_at(&self, id: &str, tokens: &[TokenEntry], now: Instant) -> Option<Grant> {
        let key = sha256_hex(id.as_bytes());
        let mut sessions = self.sessions();
        let session = sessions.get_mut(&key)?;
        let entry = tokens.iter().find(|t| t.hash == session.token_hash);
        match entry {
            Some(entry) if now.duration_since(session.last_used) < self.idle => {
                session.last_used = now;
                Some(Grant::of(entry))
            }
            _ => {
                sessions.remove(&key);
                None
            }
        }
    }

    /// Ends the session `id` (sign-out).
    pub fn close(&self, id: &str) {
        self.sessions().remove(&sha256_hex(id.as_bytes()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{Limits, Scope};

    fn entry(name: &str, hash: &str) -> TokenEntry {
        TokenEntry {
            name: name.into(),
            hash: hash.into(),
            scope: Scope::Read,
            limits: Limits::default(),
            created: None,
            may_share: false,
        }
    }

    #[test]
    fn rule49_a_session_ends_when_idle_revoked_or_signed_out() {
        let sessions = BrowserSessions::new(Duration::from_secs(60));
        let reader = entry("reader", "sha256:aa");
        let tokens = vec![reader.clone()];
        let id = sessions.open(&reader).unwrap();
        assert_eq!(id.len(), 64);
        let start = Instant::now();
        assert_eq!(
            sessions.grant_at(&id, &tokens, start).map(|g| g.name),
            Some("reader".into())
        );
        // Each use keeps it alive; a long pause ends it.
        let later = start + Duration::from_secs(50);
        assert!(sessions.grant_at(&id, &tokens, later).is_some());
        assert!(
            sessions
                .grant_at(&id, &tokens, later + Duration::from_secs(61))
                .is_none()
        );
        assert!(
            sessions.grant_at(&id, &tokens, later).is_none(),
            "an ended session came back"
        );

        // Revoked: its token is no longer listed.
        let id = sessions.open(&reader).unwrap();
        assert!(sessions.grant(&id, &[]).is_none());
        assert!(sessions.grant(&id, &tokens).is_none());

        // Signed out.
        let id = sessions.open(&reader).unwrap();
        sessions.close(&id);
        assert!(sessions.grant(&id, &tokens).is_none());
        assert!(sessions.grant("not-a-session", &tokens).is_none());
    }
}
