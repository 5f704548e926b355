//! A sentence-transformer run through ONNX Runtime (fastembed), for users who
//! want its better paraphrase matching and can afford ~17 texts/s, and as the
//! teacher `pond model distill` makes the static model from.
//!
//! ONNX Runtime is loaded from a shared library at run time (`ort`
//! load-dynamic): nothing is downloaded at build or run time.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use fastembed::{
    InitOptionsUserDefined, Pooling, TextEmbedding, TokenizerFiles, UserDefinedEmbeddingModel,
};

use super::{EmbedError, Embedder};

/// The files of a transformer model, as `scripts/fetch-models.sh` lays them out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformerFiles {
    /// Holds `model.onnx`, `tokenizer.json`, `config.json`,
    /// `special_tokens_map.json`, `tokenizer_config.json`.
    pub model_dir: PathBuf,
    /// `libonnxruntime.so` (or `.dylib`).
    pub onnxruntime: PathBuf,
}

/// Tokens per text: all-MiniLM-L6-v2 was trained at 256.
const MAX_TOKENS: usize = 256;

pub struct TransformerEmbedder {
    model: Mutex<TextEmbedding>,
    id: String,
    dimensions: usize,
    /// Row-major `dimensions × teacher width` axes mapping the model's
    /// output to the store's vector width, when it is wider.
    projection: Option<Vec<f32>>,
}

/// ONNX Runtime allows one environment per process.
static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

fn environment(library: &Path) -> Result<ort::environment::Environment, String> {
    ENVIRONMENT
        .get_or_init(|| {
            ort::init_from(library)
                .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", library.display()))?
                .with_name("pond")
                .build()
                .map_err(|e| format!("cannot start ONNX Runtime: {e}"))
        })
        .clone()
}

impl TransformerEmbedder {
    pub fn load(
        files: &TransformerFiles,
        threads: usize,
    ) -> Result<TransformerEmbedder, EmbedError> {
        let dir = &files.model_dir;
        let load_error = |reason: String| EmbedError::Load {
            path: dir.clone(),
            reason,
        };
        let read = |name: &str| {
            std::fs::read(dir.join(name)).map_err(|e| load_error(format!("{name}: {e}")))
        };
        let tokenizer = TokenizerFiles {
            tokenizer_file: read("tokenizer.json")?,
            config_file: read("config.json")?,
            special_tokens_map_file: read("special_tokens_map.json")?,
            tokenizer_config_file: read("tokenizer_config.json")?,
        };
        // Sentence-transformers models are mean-pooled; fastembed's default
        // for user models is the CLS token, which would be wrong here.
        let model = UserDefinedEmbeddingModel::new(read("model.onnx")?, tokenizer)
            .with_pooling(Pooling::Mean);
        let env = environment(&files.onnxruntime).map_err(load_error)?;
        let options = InitOptionsUserDefined::new()
            .with_environment(env)
            .with_max_length(MAX_TOKENS)
            .with_intra_threads(threads.max(1));
        let mut model = TextEmbedding::try_new_from_user_defined(model, options)
            .map_err(|e| load_error(format!("{e:#}")))?;
        let dimensions = model
            .embed(["dimension probe"], None)
            .map_err(|e| load_error(format!("{e:#}")))?
            .first()
            .map_or(0, Vec::len);
        let id = format!(
            "onnx:{}",
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        Ok(TransformerEmbedder {
            model: Mutex::new(model),
            id,
            dimensions,
            projection: None,
        })
    }

    /// Makes the embedder emit vectors of the PCA axes in `path` (written by
    /// `pond model distill` from this same model), so they fit the store's
    /// vector column.
    pub fn projected(mut self, path: &Path) -> Result<TransformerEmbedder, EmbedError> {
        let load_error = |reason: String| EmbedError::Load {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| load_error(e.to_string()))?;
        let tensors =
            safetensors::SafeTensors::deserialize(&bytes).map_err(|e| load_error(e.to_string()))?;
        let axes = tensors
            .tensor("axes")
            .map_err(|e| load_error(e.to_string()))?;
        let [rows, width] = axes.shape() else {
            return Err(load_error(format!("axes have shape {:?}", axes.shape())));
        };
        if axes.dtype() != safetensors::Dtype::F32 || *width != self.dimensions {
            return Err(load_error(format!(
                "axes are {:?} {rows}×{width}; this model's vectors have {} dimensions (re-run `pond model distill` from it)",
                axes.dtype(),
                self.dimensions
            )));
        }
        let values = axes
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        self.id = format!("{}:pca{rows}", self.id);
        self.dimensions = *rows;
        self.projection = Some(values);
        Ok(self)
    }

    fn project(&self, v: Vec<f32>) -> Vec<f32> {
        let Some(axes) = &self.projection else {
            return v;
        };
        let mut out: Vec<f32> = axes
            .chunks_exact(v.len().max(1))
            .map(|axis| axis.iter().zip(&v).map(|(a, x)| a * x).sum())
            .collect();
        let norm = out.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            out.iter_mut().for_each(|x| *x /= norm);
        }
        out
    }
}

impl Embedder for TransformerEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut model = self
            .model
            .lock()
            .map_err(|_| EmbedError::Embed("the model is poisoned by an earlier panic".into()))?;
        let vectors = model
            .embed(texts, Some(64))
            .map_err(|e| EmbedError::Embed(format!("{e:#}")))?;
        Ok(vectors.into_iter().map(|v| self.project(v)).collect())
    }

    /// ~17 texts/s here: far too slow to hold up a sync, so its vectors come
    /// from the backlog.
    fn inline(&self) -> bool {
        false
    }
}
