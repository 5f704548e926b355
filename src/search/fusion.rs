//! Fusion of the two arms, then grouping by session.
//!
//! How to fuse depends on how much the vector arm knows. A static model's
//! neighbours are noisy below its first few, so its arm is fused by
//! reciprocal rank over its first [`STATIC_VECTOR_DEPTH`] candidates: ranks
//! need no calibration, and BM25's exact hits keep their place. A contextual
//! model's similarities mean something all the way down, so its arm is fused
//! by score: BM25 scaled by its best hit, similarity min-max scaled over the
//! candidates, weighted towards BM25 when the query names an identifier, a
//! path or a quoted phrase. Scores keep what ranks lose: how far an exact hit
//! stands above the rest, and how close a paraphrase's neighbours are. Both
//! were chosen on the evaluations in docs/benchmarks.md ("Search quality").
//! Grouping comes after fusion so a long session with fifty near-identical
//! hits yields one result with a count, and the page shows fifty different
//! conversations instead.

use std::collections::HashMap;

use crate::store::tables::search::{SearchDoc, SearchRow};

/// RRF's damping constant. The textbook 60 flattens the top ranks so much
/// that a part halfway down both lists beats BM25's exact hit; 20 keeps
/// agreement rewarded while a strong first place still counts.
pub const RRF_K: f32 = 20.0;
/// The static model's arm is the weaker one, so its votes count a little less.
pub const STATIC_VECTOR_WEIGHT: f32 = 0.7;
/// Only a static model's first candidates are fused: below them its
/// neighbours are mostly noise that would push exact BM25 hits off the page.
pub const STATIC_VECTOR_DEPTH: usize = 20;
/// BM25's share of a prose query's score beside a contextual model.
pub const PROSE_BM25_WEIGHT: f32 = 0.4;
/// BM25's share when the query names something literal
/// ([`names_something_literal`]): its exact hits must not lose to meanings.
pub const LITERAL_BM25_WEIGHT: f32 = 0.7;

/// One part, ranked.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub doc: SearchDoc,
    /// Fused score, or the single arm's own score outside hybrid mode.
    pub score: f32,
    /// 1-based ranks in each arm, when the part came up there.
    pub fts_rank: Option<usize>,
    pub vector_rank: Option<usize>,
}

/// One session's hits, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionGroup {
    pub hits: Vec<Ranked>,
    /// How many of the session's parts matched in total (before `per_session`).
    pub matched: usize,
}

/// Fuses the two arms' rows (best first) for `query`; `contextual` says
/// whether the vectors came from a contextual model or a static one.
pub fn hybrid(
    fts: Vec<SearchRow>,
    mut vector: Vec<SearchRow>,
    query: &str,
    contextual: bool,
) -> Vec<Ranked> {
    // Rule 25: each model's fusion keeps hybrid no worse than the better arm.
    if !contextual {
        vector.truncate(STATIC_VECTOR_DEPTH);
        return rrf_weighted(fts, vector, 1.0, STATIC_VECTOR_WEIGHT, RRF_K);
    }
    let weight = if names_something_literal(query) {
        LITERAL_BM25_WEIGHT
    } else {
        PROSE_BM25_WEIGHT
    };
    by_score(fts, vector, weight)
}

/// RRF with a weight per arm: each part scores Σ weight / (k + rank).
pub fn rrf_weighted(
    fts: Vec<SearchRow>,
    vector: Vec<SearchRow>,
    fts_weight: f32,
    vector_weight: f32,
    k: f32,
) -> Vec<Ranked> {
    merge(fts, vector, |arm, rank, _| {
        let weight = match arm {
            Arm::Fts => fts_weight,
            Arm::Vector => vector_weight,
        };
        weight / (k + rank as f32)
    })
}

/// Score fusion: each part scores `fts_weight` × its BM25 score over the
/// best BM25 score, plus the rest × its similarity min-max scaled over the
/// vector candidates. Unlike ranks, scores keep how far ahead an arm's first
/// hit is: an exact identifier BM25 finds once stands far above its second
/// hit, while a paraphrase's neighbours sit close together.
pub fn by_score(fts: Vec<SearchRow>, vector: Vec<SearchRow>, fts_weight: f32) -> Vec<Ranked> {
    let top_bm25 = fts.iter().map(|r| r.score).fold(0.0f32, f32::max);
    let (nearest, farthest) = distance_range(&vector);
    let spread = farthest - nearest;
    merge(fts, vector, |arm, _, row| match arm {
        Arm::Fts if top_bm25 > 0.0 => fts_weight * row.score / top_bm25,
        Arm::Fts => 0.0,
        Arm::Vector if spread > 0.0 => (1.0 - fts_weight) * (farthest - row.score) / spread,
        Arm::Vector => 1.0 - fts_weight,
    })
}

/// The nearest and farthest distance among vector rows (lower is nearer).
fn distance_range(rows: &[SearchRow]) -> (f32, f32) {
    rows.iter()
        .map(|r| r.score)
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), d| {
            (lo.min(d), hi.max(d))
        })
}

/// One nearest-neighbour list from two models' arms (the model in use and
/// the stand-in whose vectors rows hold until the backlog reaches them).
/// Their distances are not comparable, so each arm's are min-max scaled to
/// 0 (its nearest) .. 1 (its farthest) on their own before the lists merge.
pub fn across_spaces(own: Vec<SearchRow>, stand_in: Vec<SearchRow>) -> Vec<SearchRow> {
    if stand_in.is_empty() {
        return own;
    }
    if own.is_empty() {
        return stand_in;
    }
    let scaled = |rows: Vec<SearchRow>| {
        let (nearest, farthest) = distance_range(&rows);
        let spread = farthest - nearest;
        rows.into_iter().map(move |mut r| {
            r.score = if spread > 0.0 {
                (r.score - nearest) / spread
            } else {
                0.0
            };
            r
        })
    };
    let mut merged: Vec<SearchRow> = scaled(own).chain(scaled(stand_in)).collect();
    merged.sort_by(|a, b| a.score.total_cmp(&b.score));
    merged
}

/// Whether a query names something only its exact words find: an
/// identifier (`snake_case`, `camelCase`, digits inside a word), a path, a
/// flag or a quoted phrase. Its BM25 hits are then worth more than its
/// nearest meanings.
pub fn names_something_literal(query: &str) -> bool {
    if query.contains('"') || query.contains('`') {
        return true;
    }
    query.split_whitespace().any(|raw| {
        let word = raw.trim_matches(|c: char| !c.is_alphanumeric());
        let mut inner = word.chars().skip(1);
        let inner_capital =
            inner.clone().any(char::is_uppercase) && word.chars().any(char::is_lowercase);
        let has_digit = word.chars().any(|c| c.is_ascii_digit());
        let joined = word.contains(['_', '/', '.', ':', '=']);
        let flag = raw.starts_with("--") && word.len() > 1;
        inner_capital || has_digit || joined || flag || inner.any(|c| c == '-')
    })
}

/// Sums each part's contributions from both arms (`contribution` gets the
/// arm, the part's 1-based rank in it and its row) and sorts best first.
fn merge(
    fts: Vec<SearchRow>,
    vector: Vec<SearchRow>,
    contribution: impl Fn(Arm, usize, &SearchRow) -> f32,
) -> Vec<Ranked> {
    let mut by_id: HashMap<String, Ranked> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for (arm, rows) in [(Arm::Fts, fts), (Arm::Vector, vector)] {
        for (i, row) in rows.into_iter().enumerate() {
            let rank = i + 1;
            let add = contribution(arm, rank, &row);
            let entry = by_id.entry(row.doc.id.clone()).or_insert_with(|| {
                order.push(row.doc.id.clone());
                Ranked {
                    doc: row.doc,
                    score: 0.0,
                    fts_rank: None,
                    vector_rank: None,
                }
            });
            entry.score += add;
            match arm {
                Arm::Fts => entry.fts_rank = Some(rank),
                Arm::Vector => entry.vector_rank = Some(rank),
            }
        }
    }
    let mut fused: Vec<Ranked> = order
        .into_iter()
        .filter_map(|id| by_id.remove(&id))
        .collect();
    // Stable: ties keep first-seen order, which favours the full-text arm.
    fused.sort_by(|a, b| b.score.total_cmp(&a.score));
    fused
}

/// One arm's rows as a ranking, keeping its own score.
pub fn single(rows: Vec<SearchRow>, arm: Arm) -> Vec<Ranked> {
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| Ranked {
            score: match arm {
                Arm::Fts => row.score,
                // Similarity reads better than distance.
                Arm::Vector => 1.0 - row.score,
            },
            doc: row.doc,
            fts_rank: (arm == Arm::Fts).then_some(i + 1),
            vector_rank: (arm == Arm::Vector).then_some(i + 1),
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arm {
    Fts,
    Vector,
}

/// Groups a ranking by session, sessions ordered by their best part, at most
/// `per_session` parts each (and at most one part per message).
pub fn group_by_session(ranked: Vec<Ranked>, per_session: usize) -> Vec<SessionGroup> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<SessionGroup> = Vec::new();
    for r in ranked {
        let at = *index.entry(r.doc.session_id.clone()).or_insert_with(|| {
            groups.push(SessionGroup {
                hits: Vec::new(),
                matched: 0,
            });
            groups.len() - 1
        });
        let group = &mut groups[at];
        group.matched += 1;
        let same_message = group
            .hits
            .iter()
            .any(|h| h.doc.message_id == r.doc.message_id);
        if group.hits.len() < per_session.max(1) && !same_message {
            group.hits.push(r);
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, session: &str) -> SearchRow {
        SearchRow {
            doc: SearchDoc {
                id: format!("{id}#0"),
                message_id: id.into(),
                session_id: session.into(),
                client: "c".into(),
                host: "h".into(),
                project: None,
                role: "user".into(),
                kind: "text".into(),
                tool: None,
                timestamp: None,
                part_no: 0,
                text: String::new(),
            },
            score: 1.0,
        }
    }

    #[test]
    fn agreement_between_arms_beats_one_arms_top_rank() {
        let fts = vec![row("a", "s1"), row("b", "s2"), row("c", "s3")];
        let vector = vec![row("d", "s4"), row("b", "s2")];
        let fused = hybrid(fts, vector, "prose", false);
        let ids: Vec<&str> = fused.iter().map(|r| r.doc.message_id.as_str()).collect();
        assert_eq!(ids, ["b", "a", "c", "d"]);
        assert_eq!(
            (fused[0].fts_rank, fused[0].vector_rank),
            (Some(2), Some(2))
        );
    }

    #[test]
    fn literal_queries_are_told_from_prose() {
        for literal in [
            "TestShadow_CommitBeforeStop failing",
            "parseTimestamp",
            "\"listen EPERM\"",
            "why does `cargo fmt` differ",
            "src/main.rs panics",
            "the --dry-run flag",
            "error E0425",
            "git-worktree cleanup",
        ] {
            assert!(names_something_literal(literal), "{literal}");
        }
        for prose in [
            "why did the deploy script stop picking up settings?",
            "the time we gave up on polling",
            "Did we fix it.",
            "-- é",
        ] {
            assert!(!names_something_literal(prose), "{prose}");
        }
    }

    #[test]
    fn score_fusion_keeps_a_far_ahead_bm25_hit_first() {
        let mut fts = vec![row("exact", "s1"), row("b", "s2")];
        fts[0].score = 12.0;
        fts[1].score = 2.0;
        let mut vector = vec![row("near", "s3"), row("b", "s2"), row("far", "s4")];
        for (r, d) in vector.iter_mut().zip([0.30, 0.32, 0.60]) {
            r.score = d;
        }
        let ids =
            |r: Vec<Ranked>| -> Vec<String> { r.into_iter().map(|r| r.doc.message_id).collect() };
        assert_eq!(ids(by_score(fts.clone(), vector.clone(), 0.7))[0], "exact");
        // Weighted towards meaning, agreement and nearness win.
        assert_eq!(ids(by_score(fts, vector, 0.3))[..2], ["b", "near"]);
    }

    #[test]
    fn two_models_arms_merge_by_their_own_scale() {
        let arm = |rows: &[(&str, f32)]| -> Vec<SearchRow> {
            rows.iter()
                .map(|(id, d)| SearchRow {
                    score: *d,
                    ..row(id, "s")
                })
                .collect()
        };
        // The stand-in's distances run larger; each arm's nearest still
        // leads, and its farthest trails.
        let merged = across_spaces(
            arm(&[("a", 0.10), ("b", 0.20), ("c", 0.30)]),
            arm(&[("x", 0.50), ("y", 0.70), ("z", 0.90)]),
        );
        let order: Vec<(&str, f32)> = merged
            .iter()
            .map(|r| (r.doc.message_id.as_str(), r.score))
            .collect();
        assert_eq!(
            order[..2].iter().map(|o| o.1).collect::<Vec<_>>(),
            [0.0, 0.0]
        );
        assert_eq!(
            order[4..].iter().map(|o| o.1).collect::<Vec<_>>(),
            [1.0, 1.0]
        );
        assert_eq!(across_spaces(arm(&[("a", 0.1)]), Vec::new())[0].score, 0.1);
    }

    #[test]
    fn a_long_session_becomes_one_group() {
        let ranked = single(
            vec![
                row("a", "s1"),
                row("b", "s1"),
                row("c", "s2"),
                row("d", "s1"),
            ],
            Arm::Fts,
        );
        let groups = group_by_session(ranked, 2);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].matched, 3);
        let first: Vec<&str> = groups[0]
            .hits
            .iter()
            .map(|h| h.doc.message_id.as_str())
            .collect();
        assert_eq!(first, ["a", "b"]);
    }
}
