//! Store keys for sessions and messages: the client's own ids, scoped so
//! that two clients (or, for clients whose ids are not unique across
//! machines, two hosts) can never name the same row.
//!
//! Adapters speak their client's ids; the store keys every session
//! `<client>:<source id>` (or `<client>@<host>:<source id>`) and every
//! message the same prefix before its own id. Scoping happens here, between
//! the two, so neither side knows the other's scheme: a Codex rollout and a
//! Claude Code file that both say `test-session-id` once became one session
//! and the Codex one vanished (rule 40).

use crate::adapter::Adapter;

use super::translate::Translation;

/// The prefix every key of one client's files on one host gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdScope {
    prefix: String,
}

impl IdScope {
    pub fn new(adapter: &dyn Adapter, host: &str) -> IdScope {
        IdScope::of(adapter.name(), adapter.session_ids_are_global(), host)
    }

    pub fn of(client: &str, ids_are_global: bool, host: &str) -> IdScope {
        // Rule 40: keys carry the client, and the host too where ids are only local.
        let prefix = if ids_are_global {
            format!("{client}:")
        } else {
            format!("{client}@{host}:")
        };
        IdScope { prefix }
    }

    /// The store key of a source id.
    pub fn scope(&self, source_id: &str) -> String {
        if source_id.is_empty() {
            // An unnamed session stays unnamed; callers drop it.
            return String::new();
        }
        format!("{}{source_id}", self.prefix)
    }

    /// The client's own id behind a key. A key written before ids were
    /// scoped (a cursor of an older pond) is already the source id.
    pub fn source<'a>(&self, key: &'a str) -> &'a str {
        key.strip_prefix(self.prefix.as_str()).unwrap_or(key)
    }

    /// Rewrites every session and message id of a translation into keys.
    pub fn apply(&self, t: &mut Translation) {
        let scope = |id: &mut String| *id = self.scope(id);
        scope(&mut t.session_id);
        scope(&mut t.current_session);
        for m in &mut t.messages {
            scope(&mut m.id);
            scope(&mut m.session_id);
        }
        t.revised = t.revised.iter().map(|id| self.scope(id)).collect();
        for (id, facts) in &mut t.facts {
            scope(id);
            if let Some(parent) = &mut facts.parent_id {
                scope(parent);
            }
        }
        for r in &mut t.records {
            scope(&mut r.session_id);
        }
        for u in &mut t.usage {
            scope(&mut u.call);
            scope(&mut u.session_id);
            if let Some(id) = &mut u.message_id {
                scope(id);
            }
        }
    }
}

/// The id the client itself knows a stored session by (what `claude
/// --resume` takes), from its key.
pub fn source_id<'a>(key: &'a str, client: &str) -> &'a str {
    let Some(rest) = key.strip_prefix(client) else {
        return key;
    };
    if let Some(id) = rest.strip_prefix(':') {
        return id;
    }
    // `<client>@<host>:<id>`: hosts hold no `:`, so the first one ends it.
    match rest.strip_prefix('@').and_then(|r| r.split_once(':')) {
        Some((_, id)) => id,
        None => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Message, Role, SessionFacts};

    fn translation(session: &str) -> Translation {
        Translation {
            session_id: session.into(),
            current_session: session.into(),
            messages: vec![Message {
                id: format!("{session}/m1"),
                session_id: session.into(),
                seq: 0,
                role: Role::User,
                timestamp: None,
                model: None,
                parts: Vec::new(),
            }],
            facts: vec![(
                session.into(),
                SessionFacts {
                    parent_id: Some("parent".into()),
                    ..SessionFacts::default()
                },
            )],
            ..Translation::default()
        }
    }

    #[test]
    fn two_clients_sharing_a_source_id_get_different_keys() {
        let mut claude = translation("shared");
        let mut codex = translation("shared");
        IdScope::of("claude-code", true, "h").apply(&mut claude);
        IdScope::of("codex", true, "h").apply(&mut codex);
        assert_eq!(claude.session_id, "claude-code:shared");
        assert_eq!(codex.session_id, "codex:shared");
        assert_eq!(codex.messages[0].id, "codex:shared/m1");
        assert_eq!(codex.messages[0].session_id, "codex:shared");
        assert_eq!(codex.facts[0].0, "codex:shared");
        assert_eq!(codex.facts[0].1.parent_id.as_deref(), Some("codex:parent"));
    }

    #[test]
    fn host_local_ids_are_scoped_by_host_too() {
        let a = IdScope::of("cline", false, "laptop");
        let b = IdScope::of("cline", false, "ci-7");
        assert_eq!(a.scope("1700000000000"), "cline@laptop:1700000000000");
        assert_ne!(a.scope("1700000000000"), b.scope("1700000000000"));
    }

    #[test]
    fn a_key_from_before_scoping_reads_as_the_source_id() {
        let scope = IdScope::of("codex", true, "h");
        assert_eq!(scope.source("codex:abc"), "abc");
        assert_eq!(scope.source("abc"), "abc");
        assert_eq!(scope.scope(""), "");
    }

    #[test]
    fn source_ids_come_back_from_keys() {
        assert_eq!(source_id("claude-code:abc", "claude-code"), "abc");
        assert_eq!(source_id("cline@laptop:170", "cline"), "170");
        assert_eq!(source_id("abc", "claude-code"), "abc");
        assert_eq!(source_id("codex:a:b", "codex"), "a:b");
    }
}
