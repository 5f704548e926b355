//! Usage as each client that records it writes it, read from the real
//! fixtures: every token of the client's own totals counted once, under
//! one kind (rule 47).

use serde_json::Value;

use super::testing::fixtures;
use crate::adapter::{Adapter, Layout, SourceFile};
use crate::translate::{Translation, translate_bytes};
use crate::usage::Tokens;

/// Reads one fixture of `client` as sync would; its layout follows from its
/// name, as it does for these clients' discovery.
fn read(adapter: &dyn Adapter, client: &str, rel: &str) -> (Vec<u8>, Translation) {
    let layout = match rel.ends_with(".jsonl") {
        true => Layout::Jsonl,
        false => Layout::Document,
    };
    let path = fixtures(client).join(rel);
    let bytes = std::fs::read(&path).expect("fixture");
    let file = SourceFile::new(path, rel, layout).with_session("s");
    let t = translate_bytes(adapter, &file, &bytes);
    (bytes, t)
}

fn all(t: &Translation) -> u64 {
    t.usage
        .iter()
        .map(|u| {
            let k: &Tokens = &u.tokens;
            k.input + k.output + k.cache_write + k.cache_read + k.reasoning
        })
        .sum()
}

#[test]
fn codex_counts_each_request_once_though_most_events_are_written_twice() {
    let (bytes, t) = read(
        &super::codex::Codex,
        "codex",
        "rtchess-rollout-019aad50.jsonl",
    );
    // The session's own running total at its last event.
    let last_total = std::str::from_utf8(&bytes)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["payload"]["info"]["total_token_usage"]["total_tokens"].as_u64())
        .max()
        .unwrap();
    assert_eq!(all(&t), last_total);
    // Codex names the model once per turn: each request knows it.
    assert!(t.usage.iter().all(|u| u.model.is_some()));
    let cached: u64 = t.usage.iter().map(|u| u.tokens.cache_read).sum();
    assert!(cached > 0);
}

#[test]
fn gemini_replies_split_cached_prompt_tokens_and_thoughts_out() {
    let (_, t) = read(
        &super::gemini::Gemini,
        "gemini",
        "agent-sessions-jsonl_v040.jsonl",
    );
    let calls: Vec<(&str, Tokens)> = t
        .usage
        .iter()
        .map(|u| (u.call.rsplit('/').next().unwrap(), u.tokens))
        .collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[1].0, "g-assistant-2");
    assert_eq!(
        calls[1].1,
        Tokens {
            input: 12069 - 11502,
            output: 147,
            cache_read: 11502,
            ..Tokens::default()
        }
    );
    assert_eq!(all(&t), 11936 + 12216);
}

#[test]
fn pi_messages_carry_their_usage_and_cost() {
    let (_, t) = read(&super::pi::Pi, "pi", "agent-sessions-small.jsonl");
    assert!(!t.usage.is_empty());
    let first = &t.usage[0];
    assert_eq!((first.tokens.input, first.tokens.output), (12, 7));
    assert_eq!(first.cost_usd, Some(0.0));
    assert!(first.message_id.is_some());
}

#[test]
fn opencode_messages_carry_their_tokens_and_a_drifted_cost_is_no_cost() {
    let (_, t) = read(
        &super::opencode::Opencode,
        "opencode",
        "agent-sessions-storage_v2/message/s_stage0_large/msg_0002.json",
    );
    assert_eq!(t.usage.len(), 1, "{:?}", t.usage);
    let u = &t.usage[0];
    assert_eq!((u.tokens.input, u.tokens.output), (120, 16));
    assert_eq!(u.model.as_deref(), Some("gpt-4o-mini"));
    // `cost` was `{input, output}` in this release, not dollars.
    assert_eq!(u.cost_usd, None);
}

#[test]
fn claude_code_keeps_a_streamed_responses_largest_output() {
    let line = |uuid: &str, output: u64| {
        serde_json::json!({
            "type": "assistant", "uuid": uuid, "sessionId": "s", "requestId": "req_1",
            "timestamp": "2026-01-01T00:00:00Z",
            "message": {"id": "msg_1", "role": "assistant", "model": "claude-opus-4-5-20251101",
                "content": [{"type": "text", "text": "x"}],
                "usage": {"input_tokens": 3, "output_tokens": output,
                    "cache_creation_input_tokens": 10, "cache_read_input_tokens": 20,
                    "cache_creation": {"ephemeral_5m_input_tokens": 4, "ephemeral_1h_input_tokens": 6}}}
        })
        .to_string()
    };
    let bytes = format!("{}\n{}\n{}\n", line("a", 1), line("b", 250), line("c", 250));
    let file = SourceFile::new("s.jsonl", "p/s.jsonl", Layout::Jsonl).with_session("s");
    let t = translate_bytes(&super::claude_code::ClaudeCode, &file, bytes.as_bytes());
    assert_eq!(t.messages.len(), 3);
    assert_eq!(t.usage.len(), 1, "{:?}", t.usage);
    assert_eq!(
        t.usage[0].tokens,
        Tokens {
            input: 3,
            output: 250,
            cache_write: 10,
            cache_write_1h: 6,
            cache_read: 20,
            reasoning: 0,
        }
    );
    assert_eq!(t.usage[0].call, "msg_1:req_1");
}
