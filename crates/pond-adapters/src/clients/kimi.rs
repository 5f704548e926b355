//! Kimi Code (Moonshot AI's coding CLI) and its predecessor kimi-cli.
//!
//! Kimi Code keeps a directory per session under `~/.kimi-code/sessions/`
//! (home directory on Linux, macOS and Windows alike):
//! `wd_<project>_<hash>/session_<uuid>/state.json` (title, working directory,
//! the agents of the session) and one append-only "wire" log per agent at
//! `session_<uuid>/agents/<agent>/wire.jsonl`; `main` is the session itself,
//! other agents (`agent-0`, ...) are subagents it launched. The layout is read
//! from the fixture's `state.json` (its `homedir` paths); the wire file's name
//! comes from other tools' descriptions.
//!
//! Wire records are `{type, ..., time}` with epoch-millisecond times and no
//! session id. Conversation comes from `context.append_message` (what enters
//! the model's context: user prompts, client injections) and
//! `context.append_loop_event` (`content.part` text / think, `tool.call`,
//! `tool.result`, step boundaries). `turn.prompt` / `turn.steer` repeat the
//! user's text that `context.append_message` records, so they stay facts.
//! `config.update`, `llm.request`, `usage.record`, `profile.bind` give model
//! and working directory; `context.apply_compaction` with a summary becomes a
//! system message; `full_compaction.*` and a list of bookkeeping types are
//! facts only. The fixture holds only user-side records and bookkeeping; the
//! loop events and compaction records are known from descriptions.
//!
//! The older Python kimi-cli (`~/.kimi/sessions/<hash of cwd>/<uuid>/
//! context.jsonl`) writes plain `{role, content, tool_calls, tool_call_id}`
//! lines plus `_checkpoint` / `_usage` markers, without times; that format is
//! known only from descriptions and read tolerantly. Its own `wire.jsonl` is
//! a different protocol and is not read.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::adapter::{Adapter, Discovery, Interpretation, Layout, RecordContext, SourceFile};
use crate::discover::{Classified, discover_classified, file_name, file_stem};
use crate::formats::json::{blocks_or_text, items_of, json_text, str_field};
use crate::formats::time::{instant, saw_fields};
use crate::model::{Message, Part, PartKind, Role, SessionFacts, joined_text};
use crate::naming::{is_uuid, record_message};

pub struct Kimi;

/// Wire record types known to carry no conversation text.
const BOOKKEEPING: &[&str] = &[
    "metadata",
    "turn.prompt",
    "turn.steer",
    "turn.cancel",
    "turn.ended",
    "tools.set_active_tools",
    "llm.tools_snapshot",
    "permission.set_mode",
    "permission.record_approval_result",
    "plugin.session_start",
    "runtime.set_binding",
    "token_counting.measured",
    "token_counting.turn_recorded",
    "plan_mode.enter",
    "plan_mode.exit",
    "full_compaction.begin",
    "full_compaction.cancel",
    "forked",
];

/// Loop events that mark steps rather than carry content.
const QUIET_LOOP_EVENTS: &[&str] = &["step.begin", "step.end"];

impl Adapter for Kimi {
    fn name(&self) -> &'static str {
        "kimi"
    }

    fn default_root(&self) -> PathBuf {
        crate::paths::home_dir().join(".kimi-code").join("sessions")
    }

    fn extra_roots(&self) -> Vec<PathBuf> {
        vec![crate::paths::home_dir().join(".kimi").join("sessions")]
    }

    fn discover(&self, root: &Path) -> Discovery {
        let keep = |p: &Path| {
            let name = file_name(p);
            name == "state.json"
                || (name.ends_with(".jsonl")
                    && name != "session_index.jsonl"
                    && (name != "wire.jsonl" || agent_dir(p).is_some()))
        };
        discover_classified(root, keep, |path| {
            if file_name(path) == "state.json" {
                let hint = path
                    .parent()
                    .map(file_name)
                    .filter(|n| n.starts_with("session_"))
                    .map(str::to_string);
                return Classified::named(Layout::Document, hint);
            }
            if let Some((session, agent)) = agent_dir(path) {
                return if agent == "main" {
                    Classified::named(Layout::Jsonl, Some(session))
                } else {
                    Classified {
                        layout: Layout::Jsonl,
                        session_hint: Some(format!("{session}/{agent}")),
                        parent_hint: Some(session),
                    }
                };
            }
            let (stem, dir) = (
                file_stem(path),
                path.parent().map(file_name).unwrap_or_default(),
            );
            let hint = [stem, dir]
                .into_iter()
                .find(|n| is_uuid(n))
                .map(str::to_string);
            Classified::named(Layout::Jsonl, hint)
        })
    }

    fn identify(&self, file: &SourceFile, first_records: &[Value]) -> Option<String> {
        file.session_hint.clone().or_else(|| {
            // A state.json read outside its session directory still names
            // the session in its agents' home directories.
            first_records
                .iter()
                .filter(|_| file.layout == Layout::Document)
                .find_map(|doc| {
                    doc.get("agents")?
                        .as_object()?
                        .values()
                        .filter_map(|a| str_field(a, "homedir"))
                        .find_map(session_in_path)
                })
        })
    }

    fn interpret(&self, ctx: RecordContext<'_>, record: &Value) -> Interpretation {
        if ctx.file.layout == Layout::Document {
            return state(ctx, record);
        }
        let at = ["time", "ts", "created_at"]
            .iter()
            .find_map(|k| instant(record.get(*k)));
        let mut facts = SessionFacts {
            parent_id: ctx.file.parent_hint.clone(),
            ..SessionFacts::default()
        };
        facts.saw(at);
        let Some(kind) = str_field(record, "type") else {
            return legacy_line(ctx, record, facts);
        };
        match kind {
            "context.append_message" => {
                let Some(m) = record.get("message").filter(|m| m.is_object()) else {
                    return Interpretation::unknown_with_facts(facts);
                };
                let message = context_message(ctx, m, at);
                Interpretation {
                    understood: message.is_some(),
                    facts,
                    messages: message.into_iter().collect(),
                    ..Interpretation::default()
                }
            }
            "context.append_loop_event" => match record.get("event").filter(|e| e.is_object()) {
                Some(event) => loop_event(ctx, event, at, facts),
                None => Interpretation::unknown_with_facts(facts),
            },
            "config.update" | "profile.bind" | "llm.request" | "usage.record" => {
                facts.model = str_field(record, "modelAlias")
                    .or_else(|| str_field(record, "model"))
                    .map(str::to_string);
                facts.project = str_field(record, "cwd")
                    .or_else(|| {
                        record
                            .get("environmentDisclosure")
                            .and_then(|e| str_field(e, "cwd"))
                    })
                    .map(str::to_string);
                Interpretation::facts(facts)
            }
            "context.apply_compaction" | "full_compaction.complete" => {
                let summary = str_field(record, "summary")
                    .or_else(|| record.get("result").and_then(|r| str_field(r, "summary")));
                match summary {
                    Some(text) => {
                        let parts = vec![Part::text(PartKind::Text, text)];
                        let message = new_message(ctx, None, Role::System, at, parts);
                        Interpretation::message(facts, message)
                    }
                    None => Interpretation::facts(facts),
                }
            }
            k if BOOKKEEPING.contains(&k)
                || k.starts_with("goal.")
                || k.starts_with("swarm_mode.") =>
            {
                Interpretation::facts(facts)
            }
            _ => Interpretation::unknown_with_facts(facts),
        }
    }
}

/// `<session_x>/agents/<agent>/wire.jsonl` → (`session_x`, agent).
fn agent_dir(p: &Path) -> Option<(String, String)> {
    let agent_dir = p.parent()?;
    let agents = agent_dir.parent()?;
    if file_name(agents) != "agents" {
        return None;
    }
    let session = file_name(agents.parent()?);
    let agent = file_name(agent_dir);
    (!session.is_empty() && !agent.is_empty()).then(|| (session.to_string(), agent.to_string()))
}

/// The `session_<uuid>` component of an agent's home directory.
fn session_in_path(path: &str) -> Option<String> {
    path.split(['/', '\\'])
        .find(|c| c.starts_with("session_") && c.len() > "session_".len())
        .map(str::to_string)
}

fn new_message(
    ctx: RecordContext<'_>,
    source_id: Option<&str>,
    role: Role,
    at: Option<DateTime<Utc>>,
    parts: Vec<Part>,
) -> Message {
    // Loop-event ids (`Bash_0`) are only unique within one agent's log.
    let id = match source_id {
        Some(id) => format!("{}/{id}", ctx.session_id),
        // Appended log: the offset tells two identical lines apart.
        None => format!("{}/{}-{}", ctx.session_id, ctx.offset, &ctx.sha256[..8]),
    };
    record_message(ctx, id, role, at, None, parts)
}

fn content_parts(content: Option<&Value>) -> Vec<Part> {
    blocks_or_text(content, block_part)
}

fn block_part(block: &Value) -> Part {
    match str_field(block, "type").unwrap_or("unknown") {
        "text" => Part::text(PartKind::Text, str_field(block, "text").unwrap_or_default()),
        "think" | "thinking" => Part::text(
            PartKind::Thinking,
            str_field(block, "think")
                .or_else(|| str_field(block, "thinking"))
                .unwrap_or_default(),
        ),
        t @ ("image_url" | "image" | "audio_url" | "video_url" | "file") => {
            Part::text(PartKind::File, format!("[{t}]"))
        }
        other => Part::text(PartKind::Other, format!("[{other}]")),
    }
}

/// Tool calls as either `{id, name, arguments|args}` or the OpenAI shape
/// `{id, function:{name, arguments}}`.
fn tool_call_part(call: &Value) -> Part {
    let function = call.get("function");
    Part::tool_call(
        str_field(call, "name").or_else(|| function.and_then(|f| str_field(f, "name"))),
        str_field(call, "id").or_else(|| str_field(call, "toolCallId")),
        call.get("arguments")
            .or_else(|| call.get("args"))
            .or_else(|| function.and_then(|f| f.get("arguments")))
            .map(json_text),
    )
}

fn tool_result_part(call_id: Option<&str>, output: Option<&Value>, is_error: bool) -> Part {
    Part::tool_result(
        None,
        call_id,
        output.map(|o| match o {
            Value::Array(_) => joined_text(&content_parts(Some(o))),
            other => json_text(other),
        }),
        is_error,
    )
}

/// A message entering the model's context. User-role text the client
/// injects itself (reminders, plan-mode notes) is marked by its origin.
fn context_message(
    ctx: RecordContext<'_>,
    m: &Value,
    at: Option<DateTime<Utc>>,
) -> Option<Message> {
    let injected = m
        .get("origin")
        .and_then(|o| str_field(o, "kind"))
        .is_some_and(|k| k == "injection");
    let role = match str_field(m, "role")? {
        "user" if injected => Role::Developer,
        r => Role::parse(r)?,
    };
    let mut parts = content_parts(m.get("content"));
    if role == Role::Tool {
        let call_id = str_field(m, "toolCallId").or_else(|| str_field(m, "tool_call_id"));
        parts = vec![tool_result_part(call_id, m.get("content"), false)];
    }
    for key in ["toolCalls", "tool_calls"] {
        for call in items_of(m, key) {
            parts.push(tool_call_part(call));
        }
    }
    Some(new_message(ctx, str_field(m, "id"), role, at, parts))
}

fn loop_event(
    ctx: RecordContext<'_>,
    event: &Value,
    at: Option<DateTime<Utc>>,
    facts: SessionFacts,
) -> Interpretation {
    let uuid = str_field(event, "uuid");
    let (role, source_id, part) = match str_field(event, "type").unwrap_or_default() {
        "content.part" => {
            let Some(part) = event.get("part") else {
                return Interpretation::unknown_with_facts(facts);
            };
            (Role::Assistant, uuid, block_part(part))
        }
        "tool.call" => (Role::Assistant, uuid, tool_call_part(event)),
        "tool.result" => {
            let result = event.get("result");
            let output = result.and_then(|r| r.get("output")).or(result);
            let is_error = result
                .and_then(|r| r.get("isError"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let call_id = str_field(event, "toolCallId").or_else(|| str_field(event, "parentUuid"));
            // The result message has no id of its own (it derives from the
            // record); the call id in its part pairs it with the call.
            (
                Role::Tool,
                None,
                tool_result_part(call_id, output, is_error),
            )
        }
        t if QUIET_LOOP_EVENTS.contains(&t) => return Interpretation::facts(facts),
        _ => return Interpretation::unknown_with_facts(facts),
    };
    Interpretation::message(facts, new_message(ctx, source_id, role, at, vec![part]))
}

/// kimi-cli's `context.jsonl`: chat messages and `_`-prefixed markers.
fn legacy_line(ctx: RecordContext<'_>, record: &Value, facts: SessionFacts) -> Interpretation {
    let Some(role) = str_field(record, "role") else {
        return Interpretation::unknown();
    };
    if role.starts_with('_') {
        return Interpretation::facts(facts);
    }
    match context_message(ctx, record, None) {
        Some(message) => Interpretation::message(facts, message),
        None => Interpretation::unknown_with_facts(facts),
    }
}

/// `state.json`: the session's title, working directory and agents.
fn state(ctx: RecordContext<'_>, doc: &Value) -> Interpretation {
    if !doc.is_object() {
        return Interpretation::unknown();
    }
    let mut facts = SessionFacts {
        project: str_field(doc, "workDir").map(str::to_string),
        title: str_field(doc, "title").map(str::to_string),
        ..SessionFacts::default()
    };
    saw_fields(&mut facts, doc, &["createdAt", "updatedAt"]);
    let mut other_sessions = Vec::new();
    for (name, agent) in doc
        .get("agents")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if name == "main" || str_field(agent, "type") == Some("main") {
            continue;
        }
        let parent = match str_field(agent, "parentAgentId") {
            Some(p) if p != "main" => format!("{}/{p}", ctx.session_id),
            _ => ctx.session_id.to_string(),
        };
        other_sessions.push((
            format!("{}/{name}", ctx.session_id),
            SessionFacts {
                project: facts.project.clone(),
                parent_id: Some(parent),
                ..SessionFacts::default()
            },
        ));
    }
    Interpretation {
        understood: true,
        facts,
        other_sessions,
        // state.json is rewritten whole and holds no messages.
        ..Interpretation::default()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::clients::testing::assert_tool_pairs;
    use crate::clients::testing::{Fixtures, read_junk, roles};
    use crate::clients::testing::{assert_ids_stable, message_ids};
    use crate::translate::translate_bytes;

    const FIXTURES: Fixtures = Fixtures::new(&Kimi, "kimi");

    #[test]
    fn discovers_every_fixture() {
        FIXTURES.assert_discovers(&[
            ("small.jsonl", Layout::Jsonl),
            ("state.json", Layout::Document),
        ]);
    }

    #[test]
    fn wire_log() {
        let (_, _, t) = FIXTURES.read("small.jsonl");
        assert_eq!(t.unknown_records, 0);
        assert_eq!(t.unparsed_records, 0);
        // Three prompts entered the context ("hi", then "hi" and the steer
        // "stop" after a cancelled turn); no reply was ever produced.
        let texts: Vec<String> = t.messages.iter().map(|m| m.plain_text()).collect();
        assert_eq!(texts, ["hi", "hi", "stop"]);
        assert!(t.messages.iter().all(|m| m.role == Role::User));
        assert!(t.messages.iter().all(|m| m.timestamp.is_some()));
        let facts = &t.facts[0].1;
        assert_eq!(facts.model.as_deref(), Some("moonshot-ai/kimi-k2.7-code"));
        assert_eq!(
            facts.project.as_deref(),
            Some("/private/tmp/as-agent-lab/kimi/project")
        );
        assert!(facts.first_seen.is_some() && facts.last_seen > facts.first_seen);
    }

    #[test]
    fn state_document() {
        let (_, _, t) = FIXTURES.read("state.json");
        assert_eq!(t.session_id, "session_9eb1bf57-c1af-48a5-b658-0e8d9fe794f5");
        assert!(t.messages.is_empty());
        let facts = &t.facts[0].1;
        assert_eq!(facts.title.as_deref(), Some("hi"));
        assert_eq!(
            facts.project.as_deref(),
            Some("/private/tmp/as-agent-lab/kimi/project")
        );
        assert!(facts.last_seen > facts.first_seen);
    }

    #[test]
    fn state_names_subagents_and_their_parents() {
        let (file, _, _) = FIXTURES.read("state.json");
        let doc = br#"{"title":"t","workDir":"/p","agents":{"main":{"type":"main","parentAgentId":null},"agent-0":{"type":"sub","parentAgentId":"main"},"agent-1":{"type":"sub","parentAgentId":"agent-0"}}}"#;
        let mut file = file;
        file.session_hint = Some("session_x".into());
        let t = translate_bytes(&Kimi, &file, doc);
        let parent = |s: &str| {
            t.facts
                .iter()
                .find(|(id, _)| id == s)
                .and_then(|(_, f)| f.parent_id.clone())
        };
        assert_eq!(parent("session_x/agent-0").as_deref(), Some("session_x"));
        assert_eq!(
            parent("session_x/agent-1").as_deref(),
            Some("session_x/agent-0")
        );
        assert_eq!(parent("session_x"), None);
    }

    /// Loop events and compaction as other tools describe them (the shared
    /// fixture has no reply); a subagent's wire in its session layout.
    #[test]
    fn replies_tools_and_subagents() {
        let dir = std::env::temp_dir().join(format!("pond-kimi-{}", std::process::id()));
        let session = dir.join("wd_p_0123/session_0b1c2d3e-0000-4000-8000-000000000001");
        let sub = session.join("agents/agent-0");
        std::fs::create_dir_all(&sub).expect("tmp");
        std::fs::create_dir_all(session.join("agents/main")).expect("tmp");
        let wire = concat!(
            r#"{"type":"context.append_message","message":{"role":"user","content":[{"type":"text","text":"count files"}],"toolCalls":[],"origin":{"kind":"system_trigger"}},"time":1785615359960}"#,
            "\n",
            r#"{"type":"context.append_loop_event","event":{"type":"content.part","uuid":"b19a7fd5-e63c-4d6a-acd1-a0f7ea976c3f","part":{"type":"think","think":"use Bash"}},"time":1785615365177}"#,
            "\n",
            r#"{"type":"context.append_loop_event","event":{"type":"tool.call","uuid":"Bash_1","toolCallId":"Bash_1","name":"Bash","args":{"command":"ls | wc -l"}},"time":1785615379077}"#,
            "\n",
            r#"{"type":"context.append_loop_event","event":{"type":"tool.result","parentUuid":"Bash_1","toolCallId":"Bash_1","result":{"output":"3\n","isError":true}},"time":1785615384399}"#,
            "\n",
            r#"{"type":"context.append_loop_event","event":{"type":"step.end","uuid":"x"},"time":1785615384400}"#,
            "\n",
            r#"{"type":"context.apply_compaction","summary":"counted files","time":1785615384401}"#,
            "\n",
            r#"{"type":"full_compaction.complete","time":1785615384402}"#,
            "\n",
        );
        std::fs::write(sub.join("wire.jsonl"), wire).expect("tmp");
        std::fs::write(session.join("agents/main/wire.jsonl"), "").expect("tmp");
        std::fs::write(session.join("wire.jsonl"), "").expect("tmp");
        let found = Kimi.discover(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(found.files.len(), 2, "{:?}", found.files);
        let by_agent = |agent: &str| {
            found
                .files
                .iter()
                .find(|f| f.rel_path.contains(&format!("/agents/{agent}/")))
                .expect("discovered")
        };
        assert_eq!(
            by_agent("main").session_hint.as_deref(),
            Some("session_0b1c2d3e-0000-4000-8000-000000000001")
        );
        let file = by_agent("agent-0");
        assert_eq!(
            file.session_hint.as_deref(),
            Some("session_0b1c2d3e-0000-4000-8000-000000000001/agent-0")
        );
        let t = translate_bytes(&Kimi, file, wire.as_bytes());
        assert_eq!(t.unknown_records, 0);
        assert_eq!(
            roles(&t),
            [
                Role::User,
                Role::Assistant,
                Role::Assistant,
                Role::Tool,
                Role::System
            ]
        );
        assert!(t.messages[3].parts[0].is_error);
        assert_tool_pairs(&t.messages);
        assert_eq!(
            t.facts[0].1.parent_id.as_deref(),
            Some("session_0b1c2d3e-0000-4000-8000-000000000001")
        );
    }

    #[test]
    fn legacy_context_lines() {
        let file = SourceFile {
            path: PathBuf::from(
                "/h/.kimi/sessions/abc/0b1c2d3e-0000-4000-8000-000000000001/context.jsonl",
            ),
            rel_path: "abc/0b1c2d3e-0000-4000-8000-000000000001/context.jsonl".into(),
            layout: Layout::Jsonl,
            session_hint: Some("0b1c2d3e-0000-4000-8000-000000000001".into()),
            parent_hint: None,
        };
        let lines = concat!(
            r#"{"role":"_checkpoint","id":0}"#,
            "\n",
            r#"{"role":"user","content":"list files"}"#,
            "\n",
            r#"{"role":"assistant","content":[{"type":"think","think":"ls"}],"tool_calls":[{"type":"function","id":"c1","function":{"name":"Shell","arguments":"{\"command\":\"ls\"}"}}]}"#,
            "\n",
            r#"{"role":"tool","content":[{"type":"text","text":"a b"}],"tool_call_id":"c1"}"#,
            "\n",
            r#"{"role":"_usage","token_count":12}"#,
            "\n",
        );
        let t = translate_bytes(&Kimi, &file, lines.as_bytes());
        assert_eq!(t.unknown_records, 0);
        assert_eq!(t.messages.len(), 3);
        assert_eq!(t.messages[2].parts[0].text.as_deref(), Some("a b"));
        assert_tool_pairs(&t.messages);
    }

    #[test]
    fn same_bytes_same_ids() {
        let (file, bytes, t) = FIXTURES.read("small.jsonl");
        assert_ids_stable(&Kimi, &file, &bytes, &t);
        // The first and second "hi" are distinct records, so distinct ids.
        assert_eq!(message_ids(&t).iter().collect::<HashSet<_>>().len(), 3);
    }

    #[test]
    fn truncated_and_garbage_input_do_not_panic() {
        let file = FIXTURES.assert_reads_cut("small.jsonl", 5);
        let (state_file, state_bytes, _) = FIXTURES.read("state.json");
        let _ = translate_bytes(&Kimi, &state_file, &state_bytes[..state_bytes.len() / 2]);
        let _ = translate_bytes(
            &Kimi,
            &state_file,
            br#"{"agents":{"x":5,"y":{"parentAgentId":3}}}"#,
        );
        read_junk(
            &Kimi,
            &file,
            &[
                &b"\x00\xff{{not json\n[1]\n{\"type\":\"context.append_message\",\"message\":[]}\n"[..],
                b"{\"type\":\"context.append_loop_event\",\"event\":{\"type\":\"tool.result\",\"result\":null},\"time\":-1e300}\n",
                b"{\"role\":5}\n{\"role\":\"tool\",\"content\":{}}\n",
            ],
        );
    }
}
