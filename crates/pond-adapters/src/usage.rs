//! Token usage of model calls, as clients record it. A call is counted
//! once however many times it is written: one API response that a client
//! splits over several records, a record copied into a resumed session's
//! file, and the same session synced from two hosts all carry the same
//! call key, which the store keys its usage rows by.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Tokens of one call, by kind. Kinds a client does not record are zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    /// Prompt tokens read neither from nor into the cache.
    pub input: u64,
    pub output: u64,
    /// Prompt tokens written to the cache, of any duration.
    pub cache_write: u64,
    /// Of `cache_write`, those written for an hour (Anthropic prices them
    /// apart from the five-minute ones).
    pub cache_write_1h: u64,
    pub cache_read: u64,
    /// Reasoning tokens the client counts apart from `output`.
    pub reasoning: u64,
}

impl Tokens {
    pub fn is_zero(&self) -> bool {
        *self == Tokens::default()
    }

    pub fn add(&mut self, other: &Tokens) {
        self.input += other.input;
        self.output += other.output;
        self.cache_write += other.cache_write;
        self.cache_write_1h += other.cache_write_1h;
        self.cache_read += other.cache_read;
        self.reasoning += other.reasoning;
    }
}

/// One model call's usage and where it was recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// What names the call in every record and file that repeats it (for
    /// Claude Code the API message id and request id), scoped like message
    /// ids once stored.
    pub call: String,
    /// The message the record that carried it became, if any.
    pub message_id: Option<String>,
    pub session_id: String,
    pub timestamp: Option<DateTime<Utc>>,
    pub model: Option<String>,
    pub tokens: Tokens,
    /// The client's own figure for the call's cost, in US dollars.
    pub cost_usd: Option<f64>,
}

/// A token count in a record: a non-negative integer (some clients write
/// `12.0`); anything else counts nothing.
pub fn count(v: Option<&serde_json::Value>) -> u64 {
    match v {
        Some(serde_json::Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn counts_are_non_negative_integers_or_nothing() {
        assert_eq!(count(Some(&json!(12))), 12);
        assert_eq!(count(Some(&json!(12.0))), 12);
        assert_eq!(count(Some(&json!(-3))), 0);
        assert_eq!(count(Some(&json!("12"))), 0);
        assert_eq!(count(None), 0);
    }

    #[test]
    fn tokens_add_by_kind() {
        let mut a = Tokens {
            input: 1,
            output: 2,
            ..Tokens::default()
        };
        a.add(&Tokens {
            cache_read: 5,
            output: 1,
            ..Tokens::default()
        });
        assert_eq!((a.input, a.output, a.cache_read), (1, 3, 5));
        assert!(!a.is_zero());
        assert!(Tokens::default().is_zero());
    }
}
