//! Search end to end: the real binary and store over the real fixtures, with
//! the real distilled model (`make test` makes it; see docs/search.md).
//! Rule numbers refer to docs/spec.md.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use serde_json::Value;

use crate::harness::{Pond, column, fixtures, open_store};

/// The static model `make models` distils into the developer's cache; the
/// sandboxed HOME of each test would not have one.
pub fn model_dir() -> PathBuf {
    // Lets a model experiment be evaluated without replacing the cached one.
    if let Some(dir) = std::env::var_os("POND_TEST_MODEL") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache"));
    let dir = cache
        .join("pond/models")
        .join(pond::embed::DEFAULT_STATIC_NAME);
    assert!(
        dir.join("model.safetensors").exists(),
        "no embedding model at {}: run `make models` (make test does) first",
        dir.display()
    );
    dir
}

/// The cache `make models` fills, for tests whose sandboxed HOME would hide it.
pub(crate) fn models_cache() -> PathBuf {
    model_dir()
        .ancestors()
        .nth(3)
        .expect("model dir is <cache>/pond/models/<name>")
        .to_path_buf()
}

/// What the search tests embed with: the static model, unless
/// `POND_TEST_EMBED_MODEL` names another choice (such as `transformer`) to
/// evaluate it on the same tests.
fn embed_choice() -> String {
    std::env::var("POND_TEST_EMBED_MODEL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| model_dir().display().to_string())
}

/// A pond with the model and both clients' fixtures synced, and vectors for
/// every row whichever model that is.
fn searchable() -> Pond {
    let mut pond = Pond::new();
    pond.env.push(("POND_EMBED_MODEL".into(), embed_choice()));
    pond.env.push((
        "XDG_CACHE_HOME".into(),
        models_cache().display().to_string(),
    ));
    pond.sync("claude-code", &fixtures("claude-code"));
    pond.sync("codex", &fixtures("codex"));
    pond.json(&["model", "reembed", "--json"]);
    pond
}

pub(crate) fn search(pond: &Pond, args: &[&str]) -> Value {
    let mut all = vec!["search", "--json"];
    all.extend_from_slice(args);
    pond.json(&all)
}

pub(crate) fn hits(v: &Value) -> &Vec<Value> {
    v["hits"].as_array().expect("hits array")
}

/// Whether one of the response's notices starts with `prefix`.
pub(crate) fn has_notice(v: &Value, prefix: &str) -> bool {
    v["notices"]
        .as_array()
        .expect("notices array")
        .iter()
        .any(|n| n.as_str().unwrap_or("").starts_with(prefix))
}

#[test]
fn rule20_every_message_part_is_searchable_with_a_vector_from_a_named_model() {
    let pond = searchable();
    let (rt, store) = open_store(&pond.store_url, vec![]);
    let kinds = column(&rt, &store, pond::store::TableKind::Search, "kind");
    let models = column(&rt, &store, pond::store::TableKind::Search, "embed_model");
    let found: HashSet<&str> = kinds.iter().map(String::as_str).collect();
    for kind in ["text", "thinking", "tool-call", "tool-result"] {
        assert!(found.contains(kind), "no {kind} rows among {found:?}");
    }
    let named: HashSet<&str> = models.iter().map(String::as_str).collect();
    assert_eq!(
        named.into_iter().collect::<Vec<_>>(),
        [pond::embed::distill::MODEL_ID],
        "every row embedded, by the one model"
    );
    assert!(models.len() > 1000, "{} rows", models.len());
}

#[test]
fn rule21_resync_adds_no_search_rows_and_new_files_are_found_at_once() {
    let pond = searchable();
    let again = pond.sync("claude-code", &fixtures("claude-code"));
    assert_eq!(again["search_rows_inserted"], 0, "{again}");

    // A session added later is found by the next search, indexed or not.
    let extra = pond.root.join("extra");
    let project = extra.join("-tmp-extra");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("aaaaaaaa-0000-4000-8000-000000000001.jsonl"),
        concat!(
            r#"{"type":"user","uuid":"u1","sessionId":"aaaaaaaa-0000-4000-8000-000000000001","timestamp":"2026-11-20T10:00:00Z","cwd":"/tmp/extra","message":{"role":"user","content":"the zanzibar-quokka deploy flag is --quokka-mode=strict"}}"#,
            "\n"
        ),
    )
    .unwrap();
    let added = pond.sync("claude-code", &extra);
    assert_eq!(added["search_rows_inserted"], 1, "{added}");
    let found = search(&pond, &["--", "--quokka-mode=strict"]);
    assert_eq!(
        hits(&found)[0]["session_id"],
        "claude-code:aaaaaaaa-0000-4000-8000-000000000001"
    );
}

#[test]
fn rule22_json_hits_carry_the_documented_fields_and_the_part_kind() {
    let pond = searchable();
    let v = search(&pond, &["cargo", "--kind", "tool-call", "--limit", "5"]);
    assert!(v["in_scope"].as_u64().unwrap() > 0, "{v}");
    let hits = hits(&v);
    assert!(!hits.is_empty(), "{v}");
    for hit in hits {
        for field in [
            "session_id",
            "message_id",
            "client",
            "project",
            "host",
            "timestamp",
            "role",
            "kind",
            "score",
            "snippet",
            "found_by",
        ] {
            assert!(hit.get(field).is_some(), "{field} missing in {hit}");
        }
        assert!(
            ["words", "meaning", "both"].contains(&hit["found_by"].as_str().unwrap_or("")),
            "{hit}"
        );
        assert_eq!(hit["kind"], "tool-call");
        assert_eq!(hit["host"], "test-host");
    }
}

/// Issue 33: a tool call's snippet showed its JSON's escapes (`\n`, `\"`)
/// on one line; it now reads as the command was written.
#[test]
fn tool_snippets_show_real_line_breaks_not_json_escapes() {
    let pond = searchable();
    // A fixture's `git commit` whose message is a heredoc, stored in the
    // call's JSON as `-m \"$(cat <<'EOF'\nfix: auto-gitignore …`.
    let v = search(
        &pond,
        &[
            "auto-gitignore wingman",
            "--kind",
            "tool-call",
            "--limit",
            "3",
        ],
    );
    let snippet = hits(&v)[0]["snippet"].as_str().expect("a snippet");
    assert!(
        snippet.contains("-m \"$(cat <<'EOF'\nfix: auto-gitignore wingman"),
        "{snippet:?}"
    );
    assert!(!snippet.contains("EOF'\\n"), "{snippet:?}");
}

/// Issue 33 item 4: questions typed as people type them (question words, a
/// question mark, quotes, an identifier inside prose) find what their words
/// match, in every mode that reads words.
#[test]
fn questions_as_typed_never_come_back_empty_when_their_words_exist() {
    let pond = searchable();
    for query in [
        "why did we get listen EPERM?",
        "how did we fix the \"unparam\" lint in FormatIncrementalSubject?",
        "did we ever use a git worktree?",
        "what's `cargo` doing here",
        "\"listen EPERM\"",
    ] {
        for mode in ["hybrid", "fts"] {
            let v = search(&pond, &["--mode", mode, "--", query]);
            assert!(!hits(&v).is_empty(), "{mode} {query:?} found nothing: {v}");
        }
    }
}

#[test]
fn rule52_a_time_phrase_narrows_the_search_and_is_shown() {
    let mut pond = searchable();
    // Days are the asker's: pin the zone the hits' times are compared in.
    pond.env.push(("TZ".into(), "UTC".into()));
    let all = search(&pond, &["test", "--limit", "50"]);
    let stamp = hits(&all)
        .iter()
        .find_map(|h| h["timestamp"].as_str())
        .expect("a hit with a time");
    let when = chrono::DateTime::parse_from_rfc3339(stamp).expect("rfc3339");
    let month = when.format("%B %Y").to_string();
    let prefix = when.format("%Y-%m").to_string();

    let query = format!("test in {month}");
    let v = search(&pond, &["--limit", "50", &query]);
    assert_eq!(v["query"], "test", "{v}");
    assert_eq!(v["understood"]["phrase"], format!("in {month}"), "{v}");
    assert!(has_notice(&v, &format!("read “in {month}” as")), "{v}");
    assert!(!hits(&v).is_empty(), "{v}");
    for h in hits(&v) {
        assert!(
            h["timestamp"].as_str().unwrap_or("").starts_with(&prefix),
            "{h}"
        );
    }
    assert!(v["in_scope"].as_u64() <= all["in_scope"].as_u64());

    // --literal, or a range given outright, leaves the words alone.
    for extra in [&["--literal"][..], &["--since", "1970-01-01"][..]] {
        let mut args = vec!["--limit", "5"];
        args.extend_from_slice(extra);
        args.push(&query);
        let v = search(&pond, &args);
        assert_eq!(v["query"], query.as_str(), "{v}");
        assert!(v["understood"].is_null(), "{v}");
    }
}

#[test]
fn rule23_filters_are_applied_and_an_empty_scope_is_reported() {
    let pond = searchable();
    let codex = search(&pond, &["test", "--client", "codex"]);
    assert!(!hits(&codex).is_empty());
    assert!(
        hits(&codex).iter().all(|h| h["client"] == "codex"),
        "{codex}"
    );

    let tool = search(&pond, &["error", "--kind", "tool-result", "--tool", "Bash"]);
    for h in hits(&tool) {
        assert_eq!(
            (&h["kind"], &h["tool"]),
            (&Value::from("tool-result"), &Value::from("Bash"))
        );
    }

    let users = search(&pond, &["please", "--role", "user"]);
    assert!(hits(&users).iter().all(|h| h["role"] == "user"));

    let nowhere = search(&pond, &["test", "--client", "no-such-client"]);
    assert_eq!(
        (nowhere["in_scope"].as_u64(), hits(&nowhere).len()),
        (Some(0), 0)
    );

    let future = search(&pond, &["test", "--since", "2099-01-01"]);
    assert_eq!(future["in_scope"], 0);
    // Time filters keep only messages with a time.
    let all = search(&pond, &["test"]);
    let before = search(&pond, &["test", "--until", "2100-01-01"]);
    let after = search(&pond, &["test", "--since", "1970-01-01"]);
    assert_eq!(before["in_scope"], after["in_scope"]);
    assert!(before["in_scope"].as_u64() <= all["in_scope"].as_u64());

    let other_host = search(&pond, &["test", "--host", "some-other-host"]);
    assert_eq!(other_host["in_scope"], 0, "--host filters by host");

    let session = hits(&all)[0]["session_id"].as_str().unwrap().to_string();
    // The client's own id, as people hold it, selects the session.
    let own_id = session.split_once(':').expect("a client-scoped key").1;
    let one = search(&pond, &["test", "--session", &own_id[..8]]);
    assert!(
        hits(&one)
            .iter()
            .all(|h| h["session_id"] == session.as_str())
    );
}

#[test]
fn rule23_bad_filters_are_refused_with_a_reason() {
    let pond = searchable();
    for (args, expect) in [
        (vec!["x", "--kind", "tool"], "unknown --kind"),
        (vec!["x", "--role", "robot"], "unknown --role"),
        (vec!["x", "--since", "last tuesday"], "cannot read"),
        (
            vec!["x", "--since", "2026-02-01", "--until", "2026-01-01"],
            "is after",
        ),
        (vec!["   "], "empty"),
    ] {
        let mut all = vec!["search"];
        all.extend(args.iter());
        let out = pond.output(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn rule24_without_a_model_search_is_full_text_and_says_so() {
    let mut pond = Pond::new();
    pond.env.push(("POND_EMBED_MODEL".into(), "off".into()));
    let synced = pond.sync("codex", &fixtures("codex"));
    assert_eq!(synced["vectors_inserted"], 0);
    assert!(synced["search_rows_inserted"].as_u64().unwrap() > 0);
    let v = search(&pond, &["listen EPERM"]);
    assert_eq!(v["mode"], "fts");
    assert!(
        v["notices"][0].as_str().unwrap().contains("full-text only"),
        "{v}"
    );
    assert!(!hits(&v).is_empty());
    let out = pond.output(&["search", "--mode", "vector", "anything"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs an embedding model"));
}

#[test]
fn rule24_search_before_any_sync_is_a_clear_error() {
    let pond = Pond::new();
    let out = pond.output(&["search", "anything"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("run `pond sync` first"));
}

#[test]
fn text_output_shows_snippets_and_sessions() {
    let pond = searchable();
    let text = pond.ok(&["search", "listen", "EPERM"]);
    assert!(text.contains("EPERM"), "{text}");
    assert!(text.contains("session "), "{text}");
    assert!(text.contains("message(s) in scope"), "{text}");
}

// ---------------------------------------------------------------------------
// Retrieval quality over the evaluation set (tests/fixtures/search-eval.json).

#[derive(serde::Deserialize)]
struct EvalSet {
    queries: Vec<EvalQuery>,
}

#[derive(serde::Deserialize)]
struct EvalQuery {
    query: String,
    #[serde(rename = "type")]
    kind: String,
    answers: Vec<String>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Scores {
    recall_at_10: f64,
    mrr: f64,
}

/// Recall@10 and MRR of each mode, over all queries and per query type. A
/// query counts as recalled when any of its answer messages is among the
/// first ten distinct messages of the ranking.
fn evaluate(pond: &Pond) -> BTreeMap<(String, String), Scores> {
    let set: EvalSet = serde_json::from_slice(
        &std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/search-eval.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let (rt, store) = open_store(&pond.store_url, vec![]);
    let ids = column(&rt, &store, pond::store::TableKind::Messages, "id");
    let texts = column(&rt, &store, pond::store::TableKind::Messages, "text");
    let choice = pond::embed::ModelChoice::resolve(Some(&embed_choice()));
    let embedder =
        pond::embed::load(&choice, pond::embed::Start::Now).expect("the model under test loads");

    let mut sums: BTreeMap<(String, String), (Scores, usize)> = BTreeMap::new();
    for q in &set.queries {
        let answers: HashSet<&str> = q
            .answers
            .iter()
            .flat_map(|needle| {
                let found: Vec<&str> = ids
                    .iter()
                    .zip(&texts)
                    .filter(|(_, t)| t.contains(needle.as_str()))
                    .map(|(id, _)| id.as_str())
                    .collect();
                assert!(!found.is_empty(), "needle not in any message: {needle}");
                found
            })
            .collect();
        for mode in [
            pond::search::Mode::Fts,
            pond::search::Mode::Vector,
            pond::search::Mode::Hybrid,
        ] {
            let request = pond::search::Request {
                query: q.query.clone(),
                understood: None,
                mode,
                filters: pond::search::Filters::default(),
                limit: 10,
                offset: 0,
                per_session: 1,
                redact: false,
            };
            let ranking = rt
                .block_on(pond::search::rank(
                    &store,
                    std::future::ready(Ok(embedder.as_ref())),
                    &request,
                ))
                .unwrap();
            let mut seen = HashSet::new();
            let messages: Vec<&str> = ranking
                .ranked
                .iter()
                .map(|r| r.doc.message_id.as_str())
                .filter(|m| seen.insert(*m))
                .collect();
            let first = messages.iter().position(|m| answers.contains(m));
            let s = Scores {
                recall_at_10: f64::from(u8::from(first.is_some_and(|p| p < 10))),
                mrr: first.map_or(0.0, |p| 1.0 / (p + 1) as f64),
            };
            for kind in [q.kind.as_str(), "all"] {
                let e = sums
                    .entry((format!("{mode:?}").to_lowercase(), kind.to_string()))
                    .or_default();
                e.0.recall_at_10 += s.recall_at_10;
                e.0.mrr += s.mrr;
                e.1 += 1;
            }
        }
    }
    sums.into_iter()
        .map(|(k, (s, n))| {
            (
                k,
                Scores {
                    recall_at_10: s.recall_at_10 / n as f64,
                    mrr: s.mrr / n as f64,
                },
            )
        })
        .collect()
}

#[test]
fn rule25_hybrid_is_at_least_as_good_as_the_better_single_arm() {
    let pond = searchable();
    let scores = evaluate(&pond);
    eprintln!("mode     type        recall@10  MRR");
    for ((mode, kind), s) in &scores {
        eprintln!("{mode:<8} {kind:<11} {:>9.3}  {:.3}", s.recall_at_10, s.mrr);
    }
    let get = |mode: &str| scores[&(mode.to_string(), "all".to_string())];
    let (fts, vector, hybrid) = (get("fts"), get("vector"), get("hybrid"));
    assert!(
        hybrid.recall_at_10 >= fts.recall_at_10.max(vector.recall_at_10),
        "recall@10: hybrid {hybrid:?} fts {fts:?} vector {vector:?}"
    );
    assert!(
        hybrid.mrr >= fts.mrr.max(vector.mrr),
        "MRR: hybrid {hybrid:?} fts {fts:?} vector {vector:?}"
    );
}
