//! The default embedder: a static (model2vec-layout) model, one vector per
//! vocabulary token, averaged over a text's tokens.
//!
//! It is two to three orders of magnitude faster than running a transformer,
//! which is what lets every message be embedded during sync.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use model2vec_rs::model::StaticModel;

use super::{EmbedError, Embedder};

/// Tokens beyond this add little to a mean of token vectors and cost time on
/// long tool output.
const MAX_TOKENS: usize = 256;
const BATCH: usize = 1024;

pub struct StaticEmbedder {
    model: StaticModel,
    id: String,
    dimensions: usize,
}

impl StaticEmbedder {
    pub fn load(dir: &Path) -> Result<StaticEmbedder, EmbedError> {
        let load_error = |reason: String| EmbedError::Load {
            path: dir.to_path_buf(),
            reason,
        };
        let config: serde_json::Value = std::fs::read(dir.join("config.json"))
            .map_err(|e| load_error(format!("config.json: {e}")))
            .and_then(|bytes| {
                serde_json::from_slice(&bytes).map_err(|e| load_error(format!("config.json: {e}")))
            })?;
        let model = StaticModel::from_pretrained(dir, None, Some(true), None)
            .map_err(|e| load_error(format!("{e:#}")))?;
        let id = model_id(dir, &config);
        let dimensions = model
            .encode_with_args(&["dimension probe".to_string()], Some(8), 1)
            .first()
            .map_or(0, Vec::len);
        if dimensions == 0 {
            return Err(load_error("the model produced an empty vector".into()));
        }
        Ok(StaticEmbedder {
            model,
            id,
            dimensions,
        })
    }
}

/// A model pond distilled names itself; any other model2vec folder is known
/// by its directory name.
fn model_id(dir: &Path, config: &serde_json::Value) -> String {
    config
        .get("pond_model_id")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "static".to_string())
}

/// A static model loaded on first use, known by its id before that. It
/// stands in for a transformer, and a search over a store whose backlog is
/// drained never reads its vectors: loading it there cost a one-shot search
/// 40 ms for nothing.
pub struct LazyStatic {
    dir: PathBuf,
    id: String,
    model: OnceLock<Result<StaticEmbedder, String>>,
}

impl LazyStatic {
    /// The model in `dir`, or `None` when there is no model there.
    pub fn at(dir: &Path) -> Option<LazyStatic> {
        if !dir.join("model.safetensors").is_file() {
            return None;
        }
        let config = serde_json::from_slice(&std::fs::read(dir.join("config.json")).ok()?).ok()?;
        Some(LazyStatic {
            dir: dir.to_path_buf(),
            id: model_id(dir, &config),
            model: OnceLock::new(),
        })
    }

    fn loaded(&self) -> Result<&StaticEmbedder, EmbedError> {
        self.model
            .get_or_init(|| StaticEmbedder::load(&self.dir).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|reason| EmbedError::Embed(reason.clone()))
    }
}

impl Embedder for LazyStatic {
    fn model_id(&self) -> &str {
        &self.id
    }

    /// Zero when the model cannot load, which no vector matches; `embed`
    /// says why.
    fn dimensions(&self) -> usize {
        self.loaded().map_or(0, |m| m.dimensions)
    }

    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.loaded()?.embed(texts)
    }
}

impl Embedder for StaticEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(self.model.encode_with_args(texts, Some(MAX_TOKENS), BATCH))
    }
}
