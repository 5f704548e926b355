//! Search's vectors end to end: rows that wait for the backlog, a change of
//! model, the opt-in transformer, and a query embedded in process. Split
//! from `search.rs` (ranking and filters) by concern; both use the real
//! binary, store, fixtures and distilled model. Rule numbers refer to
//! docs/spec.md.

use crate::harness::{Pond, column, copy_fixture, fixtures, open_store};
use crate::search::{has_notice, hits, model_dir, models_cache, search};

#[test]
fn rule26_rows_synced_without_a_model_get_vectors_from_the_backlog() {
    let mut pond = Pond::new();
    pond.env.push(("POND_EMBED_MODEL".into(), "off".into()));
    let synced = pond.sync("codex", &fixtures("codex"));
    let rows = synced["search_rows_inserted"].as_u64().unwrap();
    assert_eq!(synced["vectors_inserted"], 0);

    pond.env
        .push(("POND_EMBED_MODEL".into(), model_dir().display().to_string()));
    let before = search(&pond, &["--mode", "vector", "a chess board in the browser"]);
    assert!(hits(&before).is_empty(), "{before}");
    assert!(
        before["notices"][0]
            .as_str()
            .unwrap()
            .contains("no message in the store has a vector")
    );

    let done = pond.json(&["model", "reembed", "--batch", "500", "--json"]);
    assert_eq!(done["rows"].as_u64(), Some(rows), "{done}");
    assert!(
        done["with_vectors"].as_u64().unwrap() > rows * 9 / 10,
        "{done}"
    );
    let after = search(&pond, &["--mode", "vector", "a chess board in the browser"]);
    assert!(!hits(&after).is_empty(), "{after}");
    assert_eq!(after["notices"], serde_json::json!([]));

    // Drained: a second run has nothing to do, and a new sync with the model
    // adds nothing to the backlog.
    let again = pond.json(&["model", "reembed", "--json"]);
    assert_eq!(again["rows"], 0);
    let (rt, store) = open_store(&pond.store_url, vec![]);
    let models = column(&rt, &store, pond::store::TableKind::Search, "embed_model");
    assert_eq!(
        models.len() as u64,
        rows,
        "every row stamped with the model"
    );
}

#[test]
fn rule26_changing_models_reembeds_and_the_old_model_is_forgotten() {
    // A second "model": the same table under another id.
    let mut pond = Pond::new();
    let other = pond.root.join("other-model");
    std::fs::create_dir_all(&other).unwrap();
    for f in ["model.safetensors", "tokenizer.json"] {
        std::fs::copy(model_dir().join(f), other.join(f)).unwrap();
    }
    std::fs::write(
        other.join("config.json"),
        r#"{"model_type":"model2vec","normalize":true,"pond_model_id":"test-other-model"}"#,
    )
    .unwrap();
    pond.env
        .push(("POND_EMBED_MODEL".into(), other.display().to_string()));
    let synced = pond.sync("codex", &fixtures("codex"));
    assert_eq!(synced["embed_model"], "test-other-model");

    pond.env
        .push(("POND_EMBED_MODEL".into(), model_dir().display().to_string()));
    let stale = search(&pond, &["--mode", "vector", "chess"]);
    assert!(
        stale["notices"][0]
            .as_str()
            .unwrap()
            .contains("test-other-model"),
        "{stale}"
    );
    let done = pond.json(&["model", "reembed", "--json"]);
    assert_eq!(done["rows"], synced["search_rows_inserted"], "{done}");
    assert_eq!(
        done["forgotten_models"],
        serde_json::json!(["test-other-model"])
    );
    let fresh = search(&pond, &["--mode", "vector", "chess"]);
    assert!(
        !hits(&fresh).is_empty() && fresh["notices"] == serde_json::json!([]),
        "{fresh}"
    );
}

#[test]
fn rule27_messages_stored_before_search_existed_are_indexed_by_the_next_sync() {
    let mut pond = Pond::new();
    pond.env
        .push(("POND_EMBED_MODEL".into(), model_dir().display().to_string()));
    let first = pond.sync("codex", &fixtures("codex"));
    let rows = first["search_rows_inserted"].as_u64().unwrap();

    // What an older pond left: messages, no search rows, no backfill mark.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let location = pond::store::StoreLocation::parse(&pond.store_url).unwrap();
    rt.block_on(pond::store::reset_search(&location)).unwrap();
    let empty = search(&pond, &["listen EPERM"]);
    assert!(hits(&empty).is_empty(), "{empty}");

    // Nothing changed on disk, yet the next sync indexes the stored messages.
    let next = pond.sync("codex", &fixtures("codex"));
    assert_eq!(next["messages_inserted"], 0);
    assert_eq!(next["search_rows_inserted"].as_u64(), Some(rows), "{next}");
    let found = search(&pond, &["listen EPERM"]);
    assert!(!hits(&found).is_empty(), "{found}");
    assert_eq!(found["hits"][0]["host"], "test-host");

    // Once done, it is not done again.
    let third = pond.sync("codex", &fixtures("codex"));
    assert_eq!(third["search_rows_inserted"], 0);
}

/// A pond that chose the transformer, and a codex session to sync with it.
fn with_transformer() -> (Pond, std::path::PathBuf) {
    let mut pond = Pond::new();
    pond.env
        .push(("POND_EMBED_MODEL".into(), "transformer".into()));
    pond.env.push((
        "XDG_CACHE_HOME".into(),
        models_cache().display().to_string(),
    ));
    let sessions = pond.root.join("sessions");
    copy_fixture("codex", "agent-sessions-small.jsonl", &sessions);
    (pond, sessions)
}

#[test]
fn rule28_the_opt_in_transformer_embeds_through_the_backlog_never_during_sync() {
    let (pond, sessions) = with_transformer();

    let status = pond.json(&["model", "status", "--json"]);
    let model = status["model_id"].as_str().expect("transformer loads");
    assert!(
        model.starts_with("onnx:") && model.ends_with(":pca256"),
        "{status}"
    );
    assert_eq!(status["dimensions"], 256, "projected to the store's width");

    // The sync never waits for the slow model: its rows get the static
    // model's vectors at once, and the transformer's from the backlog.
    let synced = pond.sync("codex", &sessions);
    let rows = synced["search_rows_inserted"].as_u64().unwrap();
    assert!(rows > 0);
    assert_eq!(synced["embed_backlog_model"], model, "{synced}");
    let stand_in = synced["embed_model"].as_str().expect("a stand-in model");
    assert!(stand_in.starts_with("pond-static-"), "{synced}");
    assert!(synced["vectors_inserted"].as_u64().unwrap() > 0, "{synced}");

    // Issue 33: until the backlog is embedded, the stand-in's vectors and
    // the words still find the rows, and the search says how many wait.
    let waiting = search(&pond, &["--mode", "hybrid", "list the files"]);
    assert!(!hits(&waiting).is_empty(), "{waiting}");
    let by_meaning = search(
        &pond,
        &["--mode", "vector", "list the files in this repository"],
    );
    assert!(
        !hits(&by_meaning).is_empty(),
        "stand-in vectors find it: {by_meaning}"
    );
    assert_eq!(waiting["vectors_pending"].as_u64(), Some(rows), "{waiting}");
    let notice = format!("{rows} searchable part(s) in scope have no {model} vectors yet");
    assert!(has_notice(&waiting, &notice), "{waiting}");

    let status = pond.json(&["status", "--json"]);
    assert_eq!(
        status["search"]["by_model"][0]["model"], stand_in,
        "{status}"
    );
    assert_eq!(
        status["search"]["by_model"][0]["parts"].as_u64(),
        Some(rows),
        "{status}"
    );

    // The agent works through the backlog between its rounds.
    let mut agent = pond
        .cmd(&[
            "agent",
            "codex",
            "--path",
            sessions.to_str().unwrap(),
            "--every",
            "2s",
            "--jitter",
            "0s",
            "--json",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let drained = loop {
        let found = search(
            &pond,
            &["--mode", "vector", "list the files in this repository"],
        );
        let drained = found["vectors_pending"] == 0;
        if drained || started.elapsed() > std::time::Duration::from_secs(120) {
            break found;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    std::process::Command::new("kill")
        .args(["-TERM", &agent.id().to_string()])
        .status()
        .unwrap();
    let exit = agent.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut agent.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(exit.success(), "{stderr}");
    assert!(stderr.contains("backlog rows with onnx:"), "{stderr}");
    assert_eq!(drained["embed_model"], model, "{drained}");
    assert_eq!(drained["notices"], serde_json::json!([]), "{drained}");
    assert_eq!(drained["vectors_pending"], 0, "{drained}");
    let status = pond.json(&["status", "--json"]);
    assert_eq!(status["search"]["without_vectors"], 0, "{status}");
    assert_eq!(status["search"]["by_model"][0]["model"], model, "{status}");
    assert_eq!(
        status["search"]["by_model"][0]["parts"].as_u64(),
        Some(rows),
        "{status}"
    );
    assert_eq!(hits(&drained)[0]["snippet"], "List the files", "{drained}");

    let rest = pond.json(&["model", "reembed", "--json"]);
    assert_eq!(rest["rows"], 0, "the agent left no backlog: {rest}");
    let hybrid = search(&pond, &["--mode", "hybrid", "listing files"]);
    assert_eq!(hybrid["embed_model"], model);
    assert!(!hits(&hybrid).is_empty(), "{hybrid}");
}

#[test]
fn rule28_a_transformer_without_its_projection_is_refused_with_the_fix() {
    let mut pond = Pond::new();
    // A cache with the transformer but no distilled projection beside it.
    let cache = pond.root.join("cache");
    let sources = cache.join("pond/models/sources");
    std::fs::create_dir_all(&sources).unwrap();
    for part in ["minilm", "onnxruntime"] {
        std::os::unix::fs::symlink(
            models_cache().join("pond/models/sources").join(part),
            sources.join(part),
        )
        .unwrap();
    }
    pond.env
        .push(("POND_EMBED_MODEL".into(), "transformer".into()));
    pond.env
        .push(("XDG_CACHE_HOME".into(), cache.display().to_string()));
    let status = pond.json(&["model", "status", "--json"]);
    let why = status["unavailable"].as_str().expect("refused");
    assert!(why.contains("pond model distill --from"), "{status}");
}

/// Rule 59: a one-shot search embeds its query in process, from the
/// transformer's float weights, instead of starting ONNX Runtime; the
/// vector must be the model's all the same, or queries would drift from the
/// documents the backlog embedded through ONNX Runtime.
#[test]
fn rule59_a_query_embedded_in_process_matches_onnx_runtime() {
    use pond::embed::{Embedder, Start, TransformerEmbedder, TransformerFiles};
    let sources = models_cache().join("pond/models/sources");
    let files = TransformerFiles {
        model_dir: sources.join("minilm"),
        onnxruntime: sources.join("onnxruntime/libonnxruntime.so"),
    };
    let in_process = TransformerEmbedder::load(&files, 1, Start::WhenBatched).unwrap();
    let runtime = TransformerEmbedder::load(&files, 1, Start::Now).unwrap();
    let queries = [
        "why did the deploy script stop picking up the new settings?",
        "the time we gave up on polling and used a file watcher",
        "ENOENT: no such file or directory, open 'config/local.toml'",
        "src/store/lease.rs",
        "how did we fix the flaky test in CI",
        "a9f1e2c",
        "Wie richte ich die Datenbank ein? 数据库 😀",
        "x",
    ];
    let mut lowest = 1.0f32;
    for query in queries {
        let text = [query.to_string()];
        let ours = in_process.embed(&text).unwrap().remove(0);
        let theirs = runtime.embed(&text).unwrap().remove(0);
        assert_eq!(ours.len(), 384, "the model's own width");
        assert_eq!(ours.len(), theirs.len());
        let cosine: f32 = ours.iter().zip(&theirs).map(|(a, b)| a * b).sum();
        lowest = lowest.min(cosine);
        eprintln!("{cosine:.5} {query:?}");
        assert!(
            // The in-process pass uses the float weights and ONNX Runtime
            // their int8 copy: their rounding is the whole difference, and
            // weighs most in a one-token text.
            cosine >= 0.998,
            "{query:?}: cosine {cosine} between the in-process vector and ONNX Runtime's"
        );
    }
    eprintln!("lowest cosine over {} queries: {lowest}", queries.len());
    // A batch still goes to ONNX Runtime, which starts when first needed.
    let batch = in_process
        .embed(&queries.map(String::from))
        .expect("a batch starts ONNX Runtime");
    assert_eq!(batch.len(), queries.len());
}

#[test]
fn rule59_the_tokenizer_built_from_its_parts_is_tokenizer_json() {
    let minilm = models_cache().join("pond/models/sources/minilm");
    let (built, pad) =
        pond::embed::wordpiece::bert_from_parts(&minilm).expect("MiniLM is a plain BERT tokenizer");
    let parsed = tokenizers::Tokenizer::from_file(minilm.join("tokenizer.json"))
        .expect("tokenizer.json parses");
    assert_eq!(
        Some(pad),
        parsed.get_padding().map(|p| p.pad_id),
        "the padding id"
    );
    let questions: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("benches/search-eval/questions.json"),
        )
        .expect("questions.json"),
    )
    .expect("questions.json parses");
    let asked = questions["questions"]
        .as_array()
        .expect("questions")
        .iter()
        .filter_map(|q| q["query"].as_str().map(str::to_owned));
    // What the questions lack: accents, CJK, emoji, control characters, a
    // special token typed literally, a word past WordPiece's length limit.
    let edges = [
        "Héllo Wörld ÄÖÜ café naïve",
        "数据库のテキスト 中文",
        "emoji 🎉🚀 and ñ\t\ttabs\u{200b}zero\u{0}nul",
        "ends with [SEP] and [MASK] typed by hand",
        &"a".repeat(120),
    ]
    .map(str::to_owned);
    let mut compared = 0;
    for text in asked.chain(edges) {
        let ours = built.encode(text.as_str(), true).expect("encode");
        let theirs = parsed.encode(text.as_str(), true).expect("encode");
        // tokenizer.json pads to a fixed length; the ids before it must agree.
        let theirs = &theirs.get_ids()[..theirs
            .get_attention_mask()
            .iter()
            .filter(|m| **m == 1)
            .count()];
        assert_eq!(ours.get_ids(), theirs, "{text:?}");
        compared += 1;
    }
    assert!(compared > 80, "{compared} texts compared");
}

#[test]
fn rule28_stand_in_vectors_rank_as_the_static_model_ranks_them() {
    let (mut pond, sessions) = with_transformer();
    pond.sync("codex", &sessions);
    let queries = ["list the files", "git status", "which tests failed"];
    // Every part of the one session, with its fused score: the fusion's
    // own scale shows which fusion ran.
    let ranked = |pond: &Pond, query: &str| -> Vec<(String, String, String)> {
        let found = search(pond, &["--per-session", "10", query]);
        hits(&found)
            .iter()
            .map(|h| {
                let score = h["score"].as_f64().expect("a score");
                (
                    h["message_id"].to_string(),
                    h["found_by"].to_string(),
                    format!("{score:.4}"),
                )
            })
            .collect()
    };
    // Every row still waits for the transformer: the vector arm is the
    // static stand-in's, and a static model's arm is fused by rank.
    let waiting: Vec<_> = queries.iter().map(|q| ranked(&pond, q)).collect();
    pond.env
        .push(("POND_EMBED_MODEL".into(), model_dir().display().to_string()));
    let static_model: Vec<_> = queries.iter().map(|q| ranked(&pond, q)).collect();
    for ((query, waiting), static_model) in queries.iter().zip(waiting).zip(static_model) {
        assert!(!waiting.is_empty(), "{query}");
        assert_eq!(waiting, static_model, "{query}");
    }
}
