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
#[derive(Debug, Clone)]
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
        })
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
        model
            .embed(texts, Some(64))
            .map_err(|e| EmbedError::Embed(format!("{e:#}")))
    }
}
