//! The sessions each synthetic host writes: Claude Code lines appended
//! to, and a Gemini CLI document rewritten whole, with times that advance
//! by round.

use super::*;

pub(super) const CWD: &str = "/work/bench";

/// 2026-01-01T00:00:00Z: messages get fixed times, so runs are reproducible.
pub(super) const BASE_EPOCH: i64 = 1_767_225_600;

pub(super) const TAG_SESSION: u8 = 1;

pub(super) const TAG_MESSAGE: u8 = 2;

pub(super) const TAG_DOC_SESSION: u8 = 3;

pub(super) const TAG_DOC_MESSAGE: u8 = 4;

/// The project hash Gemini CLI names a project's directory by (any 64 hex digits).
pub(super) const GEMINI_PROJECT_HASH: &str =
    "5e1fc0a2b7d94c3e8f6a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6a";

pub(super) fn timestamp(round: usize, host: usize, k: u64) -> String {
    let secs = BASE_EPOCH + round as i64 * 600 + host as i64 * 7 + k as i64;
    chrono::DateTime::from_timestamp(secs, 0)
        .expect("timestamp in range")
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// One Claude Code transcript line, shaped as the client writes it.
pub(super) fn record(
    role: &str,
    id: &str,
    parent: Option<&str>,
    session: &str,
    ts: &str,
    text: &str,
) -> String {
    let message = if role == "user" {
        json!({"role": "user", "content": text})
    } else {
        json!({"role": "assistant", "model": "claude-sonnet-4",
               "content": [{"type": "text", "text": text}]})
    };
    json!({
        "type": role, "uuid": id, "parentUuid": parent, "sessionId": session,
        "timestamp": ts, "cwd": CWD, "isSidechain": false, "userType": "external",
        "version": "2.0.14", "gitBranch": "main", "message": message
    })
    .to_string()
}

/// One host's sessions, grown round by round.
pub(super) struct Host {
    pub(super) index: usize,
    pub(super) project: PathBuf,
    /// Where this host's Gemini CLI keeps the document it rewrites.
    pub(super) doc_path: PathBuf,
    pub(super) session: Option<(String, PathBuf)>,
    pub(super) sessions_started: u64,
    pub(super) last_id: Option<String>,
    pub(super) messages: u64,
    pub(super) doc_messages: Vec<Value>,
    /// The unique token of this host's latest user message.
    pub(super) last_token: Option<String>,
}

impl Host {
    pub(super) fn new(index: usize, src: &Path) -> Host {
        let project = claude_root(src).join("projects").join("-bench-project");
        std::fs::create_dir_all(&project).expect("create host source dir");
        let chats = gemini_home(src)
            .join(".gemini/tmp")
            .join(GEMINI_PROJECT_HASH)
            .join("chats");
        std::fs::create_dir_all(&chats).expect("create host gemini dir");
        let doc_path = chats.join(format!("session-2026-01-01T00-00-{index:08x}.json"));
        Host {
            index,
            project,
            doc_path,
            session: None,
            sessions_started: 0,
            last_id: None,
            messages: 0,
            doc_messages: Vec::new(),
            last_token: None,
        }
    }

    /// Writes this round's activity; false when the host is idle this round.
    pub(super) fn step(&mut self, round: usize) -> bool {
        // Offset by host so the fleet's idle rounds and new sessions are staggered.
        let phase = round + self.index;
        if round > 1 && phase.is_multiple_of(7) {
            return false;
        }
        if self.session.is_none() || phase.is_multiple_of(10) {
            self.start_session();
        }
        self.append_exchange(round);
        if self.index.is_multiple_of(4) {
            self.rewrite_doc(round);
        }
        true
    }

    pub(super) fn start_session(&mut self) {
        let id = uuid(TAG_SESSION, self.index, self.sessions_started);
        self.sessions_started += 1;
        let path = self.project.join(format!("{id}.jsonl"));
        self.session = Some((id, path));
        self.last_id = None;
    }

    pub(super) fn next_id(&mut self) -> String {
        self.messages += 1;
        uuid(TAG_MESSAGE, self.index, self.messages)
    }

    /// One user message and its answer appended: the common, cheap case.
    pub(super) fn append_exchange(&mut self, round: usize) {
        let (session, path) = self.session.clone().expect("a session is open");
        let mut lines = String::new();
        for (k, role) in ["user", "assistant"].into_iter().enumerate() {
            let id = self.next_id();
            let token = format!("zq{:02}r{round:04}{}", self.index, &role[..1]);
            let seed = ((self.index as u64) << 32) | ((round as u64) << 1) | k as u64;
            let ts = timestamp(round, self.index, k as u64);
            let text = prose(seed, &token);
            lines += &record(role, &id, self.last_id.as_deref(), &session, &ts, &text);
            lines.push('\n');
            if role == "user" {
                self.last_token = Some(token);
            }
            self.last_id = Some(id);
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .expect("open session file");
        file.write_all(lines.as_bytes())
            .expect("append to session file");
    }

    /// A Gemini CLI session grown by one message: its client writes the
    /// whole JSON document again at every change, so each round stores a new
    /// generation of it (rule 43 keeps it as a patch).
    pub(super) fn rewrite_doc(&mut self, round: usize) {
        let session = uuid(TAG_DOC_SESSION, self.index, 0);
        let n = self.doc_messages.len() as u64;
        let token = format!("zd{:02}r{round:04}", self.index);
        let seed = (1u64 << 63) | ((self.index as u64) << 32) | round as u64;
        let ts = timestamp(round, self.index, 2);
        self.doc_messages.push(json!({
            "id": uuid(TAG_DOC_MESSAGE, self.index, n),
            "timestamp": ts,
            "type": if n.is_multiple_of(2) { "user" } else { "gemini" },
            "content": prose(seed, &token),
        }));
        let doc = json!({
            "sessionId": session,
            "projectHash": GEMINI_PROJECT_HASH,
            "startTime": timestamp(0, self.index, 0),
            "lastUpdated": ts,
            "messages": self.doc_messages,
        });
        let text = serde_json::to_vec_pretty(&doc).expect("serialise doc");
        std::fs::write(&self.doc_path, text).expect("rewrite doc file");
    }
}

/// A host's Claude Code config dir (`CLAUDE_CONFIG_DIR`).
pub(super) fn claude_root(src: &Path) -> PathBuf {
    src.join("claude")
}

/// A host's Gemini CLI home (`GEMINI_CLI_HOME`).
pub(super) fn gemini_home(src: &Path) -> PathBuf {
    src.join("gemini")
}
