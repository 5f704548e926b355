//! `pond model distill`: makes the static model from a sentence-transformer.
//!
//! No registry ships a ready static model, so pond makes its own, once per
//! machine: every vocabulary token is embedded by the transformer, the
//! vectors are reduced to [`DIMENSIONS`] by PCA (keeping the directions that
//! separate tokens, dropping the rest), and each token is weighted down by
//! how common it is (a mean over a text should be carried by its rare,
//! meaningful tokens, not by "the" and "of"). The result is written in the
//! model2vec layout that [`super::StaticEmbedder`] loads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::linalg;
use super::{EmbedError, Embedder, TransformerEmbedder, TransformerFiles};

/// Output width; the store's vector column has this size.
pub const DIMENSIONS: usize = crate::store::tables::search::VECTOR_DIM as usize;

/// Names the recipe, not the bytes: hosts distil independently and must
/// agree on the id so their vectors are searched together. Bump the version
/// when the recipe changes.
pub const MODEL_ID: &str = "pond-static-minilm-l6-pca256-sif-v1";

/// Smoothing of the frequency weight: tokens much rarer than this share of
/// all tokens keep nearly full weight, much more common ones fade. Chosen on
/// the evaluation set (docs/benchmarks.md): 1e-3 left stop words at full
/// weight, 1e-5 brings "the" and "." down to about 0.02.
const SIF_COEFFICIENT: f64 = 1e-5;

/// Id of "the" in BERT's WordPiece vocabulary: below it are special,
/// unused and single-character entries; from it on, words roughly by
/// frequency.
const FIRST_WORD_ID: usize = 1996;

/// The PCA axes (`axes`, f32, [`DIMENSIONS`] × teacher width), written
/// beside the static model for [`super::TransformerEmbedder`] to project with.
pub const PROJECTION_FILE: &str = "projection.safetensors";

/// Tokens embedded per transformer call.
const BATCH: usize = 256;

#[derive(Debug, Clone, serde::Serialize)]
pub struct DistillReport {
    pub out_dir: PathBuf,
    pub model_id: String,
    pub vocabulary: usize,
    pub dimensions: usize,
    /// Share of the token vectors' variance the kept directions explain.
    pub explained_variance: f64,
    pub embed_secs: f64,
    pub total_secs: f64,
}

/// Distils the transformer in `teacher` into `out_dir`, reporting progress
/// (tokens done, total) as it goes.
pub fn distill(
    teacher: &TransformerFiles,
    out_dir: &Path,
    threads: usize,
    progress: &dyn Fn(usize, usize),
) -> Result<DistillReport, EmbedError> {
    let started = std::time::Instant::now();
    let tokenizer_path = teacher.model_dir.join("tokenizer.json");
    let tokenizer_bytes = std::fs::read(&tokenizer_path)
        .map_err(|e| EmbedError::Distill(format!("{}: {e}", tokenizer_path.display())))?;
    let vocab = vocabulary(&tokenizer_bytes)?;
    let model = TransformerEmbedder::load(teacher, threads, super::Start::Now)?;

    let texts: Vec<String> = vocab.iter().map(|t| token_text(t)).collect();
    let mut vectors: Vec<Vec<f32>> = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(BATCH) {
        vectors.extend(model.embed(chunk)?);
        progress(vectors.len(), texts.len());
    }
    let embed_secs = started.elapsed().as_secs_f64();

    let dim = model.dimensions();
    if dim < DIMENSIONS {
        return Err(EmbedError::Distill(format!(
            "the teacher has {dim} dimensions, fewer than the {DIMENSIONS} to keep"
        )));
    }
    // Not centred: the mean direction all token vectors share is kept, and
    // measured better on the evaluation set than removing it.
    let second_moment = linalg::second_moment(&vectors, dim);
    let eigen = linalg::symmetric_eigen(&second_moment);
    let total: f64 = eigen.iter().map(|(l, _)| l.max(0.0)).sum();
    let kept: f64 = eigen.iter().take(DIMENSIONS).map(|(l, _)| l.max(0.0)).sum();
    let basis: Vec<&Vec<f64>> = eigen.iter().take(DIMENSIONS).map(|(_, v)| v).collect();

    let mut table = Vec::with_capacity(vocab.len() * DIMENSIONS);
    for (v, weight) in vectors.iter().zip(frequency_weights(vocab.len())) {
        for axis in &basis {
            let projected: f64 = v
                .iter()
                .zip(axis.iter())
                .map(|(x, a)| f64::from(*x) * a)
                .sum();
            table.push((projected * weight) as f32);
        }
    }
    // The same axes turn the transformer's own sentence vectors into the
    // store's width when a user opts into it for search.
    let projection: Vec<f32> = basis
        .iter()
        .flat_map(|axis| axis.iter().map(|a| *a as f32))
        .collect();
    write_model(
        out_dir,
        &tokenizer_bytes,
        &table,
        vocab.len(),
        (&projection, dim),
        teacher,
    )?;
    Ok(DistillReport {
        out_dir: out_dir.to_path_buf(),
        model_id: MODEL_ID.to_string(),
        vocabulary: vocab.len(),
        dimensions: DIMENSIONS,
        explained_variance: if total > 0.0 { kept / total } else { 0.0 },
        embed_secs,
        total_secs: started.elapsed().as_secs_f64(),
    })
}

/// The tokenizer's vocabulary, indexed by token id.
fn vocabulary(tokenizer_json: &[u8]) -> Result<Vec<String>, EmbedError> {
    let parsed: serde_json::Value = serde_json::from_slice(tokenizer_json)
        .map_err(|e| EmbedError::Distill(format!("tokenizer.json: {e}")))?;
    let map = parsed
        .pointer("/model/vocab")
        .and_then(|v| v.as_object())
        .ok_or_else(|| {
            EmbedError::Distill("tokenizer.json has no model.vocab map (not WordPiece?)".into())
        })?;
    let mut by_id: HashMap<usize, String> = HashMap::with_capacity(map.len());
    for (token, id) in map {
        if let Some(id) = id.as_u64() {
            by_id.insert(id as usize, token.clone());
        }
    }
    let size = by_id.keys().max().map_or(0, |m| m + 1);
    if size == 0 || by_id.len() != size {
        return Err(EmbedError::Distill(format!(
            "tokenizer vocabulary ids are not dense: {} tokens, highest id {}",
            by_id.len(),
            size.saturating_sub(1)
        )));
    }
    Ok((0..size)
        .map(|id| by_id.remove(&id).unwrap_or_default())
        .collect())
}

/// What the teacher reads for a token: a word-piece continuation (`##ing`)
/// is embedded as its letters, the closest text a sentence encoder accepts.
fn token_text(token: &str) -> String {
    token.strip_prefix("##").unwrap_or(token).to_string()
}

/// Smooth inverse frequency with frequencies estimated from rank (Zipf's
/// law: the token at rank r occurs about 1/r as often as the first). BERT's
/// WordPiece vocabulary is roughly frequency-ordered from "the" on, so the
/// rank is the id counted from there; everything before it (punctuation,
/// single characters, special tokens) is treated as being as common as "the".
fn frequency_weights(vocabulary: usize) -> Vec<f64> {
    let rank = |id: usize| (id + 1).saturating_sub(FIRST_WORD_ID).max(1) as f64;
    let total: f64 = (0..vocabulary).map(|id| 1.0 / rank(id)).sum();
    (0..vocabulary)
        .map(|id| {
            let share = 1.0 / (rank(id) * total);
            SIF_COEFFICIENT / (SIF_COEFFICIENT + share)
        })
        .collect()
}

fn write_model(
    out_dir: &Path,
    tokenizer_json: &[u8],
    table: &[f32],
    rows: usize,
    (projection, teacher_dim): (&[f32], usize),
    teacher: &TransformerFiles,
) -> Result<(), EmbedError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        EmbedError::Distill(format!("writing {}/{what}: {e}", out_dir.display()))
    };
    // Written beside the target and renamed, so a reader never sees half a model.
    let staging = out_dir.with_extension(format!("tmp.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|e| fail("", &e))?;
    // Stored as int8 rows with one f32 scale per row (model2vec's per-token
    // `weights`): a quarter of the bytes to read, which is most of what
    // loading the model costs a one-shot search.
    let (codes, scales) = quantize_rows(table, DIMENSIONS);
    let code_bytes: Vec<u8> = codes.iter().map(|&c| c as u8).collect();
    let scale_bytes: Vec<u8> = scales.iter().flat_map(|x| x.to_le_bytes()).collect();
    let embeddings = safetensors::tensor::TensorView::new(
        safetensors::Dtype::I8,
        vec![rows, DIMENSIONS],
        &code_bytes,
    )
    .map_err(|e| fail("model.safetensors", &e))?;
    let weights =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![rows], &scale_bytes)
            .map_err(|e| fail("model.safetensors", &e))?;
    safetensors::serialize_to_file(
        [("embeddings", embeddings), ("weights", weights)],
        &None,
        &staging.join("model.safetensors"),
    )
    .map_err(|e| fail("model.safetensors", &e))?;
    let projection_bytes: Vec<u8> = projection.iter().flat_map(|x| x.to_le_bytes()).collect();
    let axes = safetensors::tensor::TensorView::new(
        safetensors::Dtype::F32,
        vec![DIMENSIONS, teacher_dim],
        &projection_bytes,
    )
    .map_err(|e| fail(PROJECTION_FILE, &e))?;
    safetensors::serialize_to_file([("axes", axes)], &None, &staging.join(PROJECTION_FILE))
        .map_err(|e| fail(PROJECTION_FILE, &e))?;
    std::fs::write(staging.join("tokenizer.json"), tokenizer_json)
        .map_err(|e| fail("tokenizer.json", &e))?;
    let config = serde_json::json!({
        "model_type": "model2vec",
        "normalize": true,
        "hidden_dim": DIMENSIONS,
        "pond_model_id": MODEL_ID,
        "teacher": teacher.model_dir.display().to_string(),
        "sif_coefficient": SIF_COEFFICIENT,
    });
    std::fs::write(
        staging.join("config.json"),
        serde_json::to_vec_pretty(&config).map_err(|e| fail("config.json", &e))?,
    )
    .map_err(|e| fail("config.json", &e))?;
    let _ = std::fs::remove_dir_all(out_dir);
    if let Some(parent) = out_dir.parent() {
        std::fs::create_dir_all(parent).map_err(|e| fail("", &e))?;
    }
    std::fs::rename(&staging, out_dir).map_err(|e| fail("", &e))
}

/// Each row as int8 codes and the scale that maps them back
/// (`value ≈ code × scale`, the largest magnitude of the row at ±127).
fn quantize_rows(table: &[f32], dim: usize) -> (Vec<i8>, Vec<f32>) {
    let mut codes = Vec::with_capacity(table.len());
    let mut scales = Vec::with_capacity(table.len() / dim.max(1));
    for row in table.chunks(dim.max(1)) {
        let largest = row.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let scale = if largest > 0.0 { largest / 127.0 } else { 1.0 };
        codes.extend(
            row.iter()
                .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8),
        );
        scales.push(scale);
    }
    (codes, scales)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_tokens_weigh_less_than_rare_ones() {
        let weights = frequency_weights(30_522);
        let (the, of, rare) = (weights[1996], weights[1997], weights[20_000]);
        assert!(the < 0.05 && of < 0.05 && rare > 0.9, "{the} {of} {rare}");
        assert_eq!(weights[5], the, "specials and characters weigh as \"the\"");
    }

    #[test]
    fn rows_quantize_to_within_half_a_step() {
        let table = [0.5, -1.0, 0.25, 0.0, 0.0, 0.0];
        let (codes, scales) = quantize_rows(&table, 3);
        assert_eq!(codes[..3], [64, -127, 32]);
        assert_eq!(scales[1], 1.0, "an all-zero row keeps a usable scale");
        for (i, x) in table[..3].iter().enumerate() {
            assert!((f32::from(codes[i]) * scales[0] - x).abs() <= scales[0] / 2.0);
        }
    }

    #[test]
    fn vocabulary_is_indexed_by_id() {
        let json = br###"{"model":{"type":"WordPiece","vocab":{"b":1,"a":0,"##c":2}}}"###;
        assert_eq!(vocabulary(json).unwrap(), ["a", "b", "##c"]);
        assert_eq!(token_text("##c"), "c");
        let gap = br#"{"model":{"vocab":{"a":0,"b":2}}}"#;
        assert!(vocabulary(gap).is_err());
    }
}
