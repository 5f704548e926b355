//! The default embedder: a static (model2vec-layout) model, one vector per
//! vocabulary token, averaged over a text's tokens.
//!
//! It is two to three orders of magnitude faster than running a transformer,
//! which is what lets every message be embedded during sync.

use std::path::Path;

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
        // A model pond distilled names itself; any other model2vec folder is
        // known by its directory name.
        let id = config
            .get("pond_model_id")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "static".to_string());
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
