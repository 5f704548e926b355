//! What every adapter's unit tests share: where the fixtures are, how they
//! are discovered and read, and the checks every adapter must pass (tool
//! results pair with calls, ids are stable, damaged input never panics).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::adapter::{Adapter, SourceFile};
use crate::adapter::{Discovery, Layout};
use crate::model::{Message, Part, PartKind, Role, SessionFacts, parse_timestamp};
use crate::translate::{Translation, translate_bytes};

/// `tests/fixtures/<client>` of the repository (the workspace root, two
/// levels above this crate). The crate's directory is read when the test
/// runs (cargo sets it then): this crate changes rarely, and a test binary
/// another checkout built into a shared target dir is reused as it is, with
/// that checkout's path compiled in (gone once its CI run is cleaned up).
pub(crate) fn fixtures(client: &str) -> PathBuf {
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    crate_dir.join("../../tests/fixtures").join(client)
}

/// The call ids that the parts of `kind` in `messages` carry, in order.
pub(crate) fn tool_ids(messages: &[Message], kind: PartKind) -> Vec<&str> {
    messages
        .iter()
        .flat_map(|m| &m.parts)
        .filter(|p| p.kind == kind)
        .filter_map(|p| p.tool_call_id.as_deref())
        .collect()
}

/// The ids of the tool calls in `messages`.
fn call_ids(messages: &[Message]) -> HashSet<&str> {
    tool_ids(messages, PartKind::ToolCall).into_iter().collect()
}

/// Every tool result that names a call names one present in `messages`.
pub(crate) fn assert_tool_pairs(messages: &[Message]) {
    let calls = call_ids(messages);
    for p in messages.iter().flat_map(|m| &m.parts) {
        if p.kind == PartKind::ToolResult
            && let Some(id) = &p.tool_call_id
        {
            assert!(calls.contains(id.as_str()), "result without call: {id}");
        }
    }
}

/// The tool results of `messages`, each of which must name a call present
/// there (stricter than [`assert_tool_pairs`]: a result without an id fails).
pub(crate) fn paired_results(messages: &[Message]) -> Vec<&Part> {
    let calls = call_ids(messages);
    let results: Vec<&Part> = messages
        .iter()
        .flat_map(|m| &m.parts)
        .filter(|p| p.kind == PartKind::ToolResult)
        .collect();
    for r in &results {
        assert!(calls.contains(r.tool_call_id.as_deref().unwrap_or_default()));
    }
    results
}

/// The fixture file `rel` of `client` as the adapter discovers it, its bytes,
/// and what a first sync of it would make.
pub(crate) fn read_fixture(
    adapter: &dyn Adapter,
    client: &str,
    rel: &str,
) -> (SourceFile, Vec<u8>, Translation) {
    let found = adapter.discover(&fixtures(client));
    assert!(found.problems.is_empty(), "{:?}", found.problems);
    let file = found
        .files
        .into_iter()
        .find(|f| f.rel_path == rel)
        .unwrap_or_else(|| panic!("{rel} not discovered"));
    let bytes = std::fs::read(&file.path).expect("fixture");
    let t = translate_bytes(adapter, &file, &bytes);
    (file, bytes, t)
}

/// One client's fixtures, read the way its adapter reads them: what each
/// adapter's tests would otherwise declare for themselves.
pub(crate) struct Fixtures {
    adapter: &'static dyn Adapter,
    client: &'static str,
}

impl Fixtures {
    pub(crate) const fn new(adapter: &'static dyn Adapter, client: &'static str) -> Fixtures {
        Fixtures { adapter, client }
    }

    /// `tests/fixtures/<client>`.
    pub(crate) fn dir(&self) -> PathBuf {
        fixtures(self.client)
    }

    /// See [`read_fixture`].
    pub(crate) fn read(&self, rel: &str) -> (SourceFile, Vec<u8>, Translation) {
        read_fixture(self.adapter, self.client, rel)
    }

    /// [`assert_ids_stable`] for the fixture `rel`.
    #[track_caller]
    pub(crate) fn assert_ids_stable(&self, rel: &str) {
        let (file, bytes, t) = self.read(rel);
        assert_ids_stable(self.adapter, &file, &bytes, &t);
    }

    /// [`assert_discovers`] in `tests/fixtures/<client>`.
    #[track_caller]
    pub(crate) fn assert_discovers(&self, expected: &[(&str, Layout)]) -> Discovery {
        assert_discovers(self.adapter, &self.dir(), expected)
    }

    /// The fixture `rel`, read as the session `id` with every record known:
    /// how a test of one real session starts.
    #[track_caller]
    pub(crate) fn read_session(&self, rel: &str, id: &str) -> Translation {
        let (_, _, t) = self.read(rel);
        assert_eq!(t.session_id, id);
        assert_eq!(t.unknown_records, 0);
        t
    }

    /// The fixture `rel` cut `past_middle` bytes after its middle (inside a
    /// record) still yields its earlier messages; returns the file.
    #[track_caller]
    pub(crate) fn assert_reads_cut(&self, rel: &str, past_middle: usize) -> SourceFile {
        let (file, bytes, _) = self.read(rel);
        let t = translate_bytes(self.adapter, &file, &bytes[..bytes.len() / 2 + past_middle]);
        assert!(!t.messages.is_empty());
        file
    }
}

/// Discovery under `root` finds exactly `expected` (relative paths with
/// their layouts, in order) and no problems.
#[track_caller]
pub(crate) fn assert_discovers(
    adapter: &dyn Adapter,
    root: &Path,
    expected: &[(&str, Layout)],
) -> Discovery {
    let found = adapter.discover(root);
    assert!(found.problems.is_empty(), "{:?}", found.problems);
    assert_eq!(placed(&found), expected);
    found
}

/// Malformed input never panics an adapter: each of `junk` is translated
/// as `file` and what comes of it is dropped.
pub(crate) fn read_junk(adapter: &dyn Adapter, file: &SourceFile, junk: &[&[u8]]) {
    for &bytes in junk {
        let _ = translate_bytes(adapter, file, bytes);
    }
}

/// Reading the same bytes again names every message as `t` did: ids come
/// from the bytes, never from a clock or the order of reads.
#[track_caller]
pub(crate) fn assert_ids_stable(
    adapter: &dyn Adapter,
    file: &SourceFile,
    bytes: &[u8],
    t: &Translation,
) {
    let again = translate_bytes(adapter, file, bytes);
    assert_eq!(message_ids(t), message_ids(&again));
}

/// The roles of a translation's messages, in order.
pub(crate) fn roles(t: &Translation) -> Vec<Role> {
    t.messages.iter().map(|m| m.role).collect()
}

/// How many of a translation's messages have each of `roles`, in that
/// order: the tally the tests compare with a count made by hand.
pub(crate) fn role_counts<const N: usize>(t: &Translation, roles: [Role; N]) -> [usize; N] {
    roles.map(|r| t.messages.iter().filter(|m| m.role == r).count())
}

/// The one file a client's fixtures hold, and its bytes; fails unless
/// discovery finds exactly `rel` there.
pub(crate) fn only_fixture(
    adapter: &dyn Adapter,
    client: &str,
    rel: &str,
) -> (SourceFile, Vec<u8>) {
    let found = adapter.discover(&fixtures(client));
    assert!(found.problems.is_empty(), "{:?}", found.problems);
    let rels: Vec<&str> = found.files.iter().map(|f| f.rel_path.as_str()).collect();
    assert_eq!(rels, [rel]);
    let file = found.files.into_iter().next().expect("one file");
    let bytes = std::fs::read(&file.path).expect("fixture readable");
    (file, bytes)
}

/// The session's first and last timestamps are the two given.
#[track_caller]
pub(crate) fn assert_seen(facts: &SessionFacts, first: &str, last: &str) {
    assert_eq!(facts.first_seen, parse_timestamp(first));
    assert_eq!(facts.last_seen, parse_timestamp(last));
}

/// The files discovery found, each with its layout, in discovery order.
fn placed(found: &Discovery) -> Vec<(&str, Layout)> {
    found
        .files
        .iter()
        .map(|f| (f.rel_path.as_str(), f.layout))
        .collect()
}

/// The ids of a translation's messages, in order.
pub(crate) fn message_ids(t: &Translation) -> Vec<String> {
    t.messages.iter().map(|m| m.id.clone()).collect()
}

/// Every tool result carries a call id, and a call with that id is in the
/// same session (clients whose databases hold many sessions).
#[track_caller]
pub(crate) fn assert_results_pair_per_session<'m>(
    messages: impl IntoIterator<Item = &'m Message> + Clone,
) {
    let calls: HashSet<(&str, &str)> = messages
        .clone()
        .into_iter()
        .flat_map(|m| m.parts.iter().map(move |p| (m, p)))
        .filter(|(_, p)| p.kind == PartKind::ToolCall)
        .filter_map(|(m, p)| Some((m.session_id.as_str(), p.tool_call_id.as_deref()?)))
        .collect();
    for m in messages {
        for p in m.parts.iter().filter(|p| p.kind == PartKind::ToolResult) {
            let id = p.tool_call_id.as_deref().expect("result has a call id");
            assert!(calls.contains(&(m.session_id.as_str(), id)), "{id}");
        }
    }
}
