//! Local, offline text embeddings for the vector arm of search.
//!
//! Search and sync depend only on the [`Embedder`] trait, so the model behind
//! it can change (the fast static model by default, a transformer when a user
//! opts in) without touching either. Every vector is stored with the id of the
//! model that made it, because distances between vectors of two models mean
//! nothing.

pub mod distill;
pub mod linalg;
mod static_model;
mod transformer;

use std::path::{Path, PathBuf};

pub use static_model::StaticEmbedder;
pub use transformer::{TransformerEmbedder, TransformerFiles};

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("cannot load the embedding model at {path}: {reason}")]
    Load { path: PathBuf, reason: String },
    #[error("embedding failed: {0}")]
    Embed(String),
    #[error("distillation failed: {0}")]
    Distill(String),
}

/// Turns texts into unit-length vectors of a fixed size.
pub trait Embedder: Send + Sync {
    /// Stable identifier stored with each vector.
    fn model_id(&self) -> &str;
    fn dimensions(&self) -> usize;
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// A vector worth storing: the right size and with a direction (a text of
/// only unknown tokens embeds to zeros, which cosine cannot compare).
pub fn usable(v: Vec<f32>, dimensions: usize) -> Option<Vec<f32>> {
    let finite = v.iter().all(|x| x.is_finite());
    let nonzero = v.iter().any(|x| *x != 0.0);
    (v.len() == dimensions && finite && nonzero).then_some(v)
}

/// `$XDG_CACHE_HOME/pond/models`: model files are derived data, rebuildable
/// from their sources, so they belong in the cache rather than in state.
pub fn models_dir() -> PathBuf {
    match std::env::var_os("XDG_CACHE_HOME") {
        Some(v) if Path::new(&v).is_absolute() => PathBuf::from(v),
        _ => crate::paths::home_dir().join(".cache"),
    }
    .join("pond")
    .join("models")
}

/// Where `pond model distill` writes the default static model and where sync
/// and search look for it.
pub fn default_static_dir() -> PathBuf {
    models_dir().join(DEFAULT_STATIC_NAME)
}

pub const DEFAULT_STATIC_NAME: &str = "pond-static-minilm-256";

/// Which model search and sync use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelChoice {
    /// The static model in this directory (the default directory unless set).
    Static(PathBuf),
    /// No vectors: BM25 only.
    Off,
}

impl ModelChoice {
    /// `POND_EMBED_MODEL`, else the config file's `[search] model`, else the
    /// default directory. Either may name a directory or say `off`.
    pub fn resolve(configured: Option<&str>) -> ModelChoice {
        let env = std::env::var("POND_EMBED_MODEL")
            .ok()
            .filter(|v| !v.is_empty());
        match env.as_deref().or(configured) {
            Some(v) if v.eq_ignore_ascii_case("off") || v.eq_ignore_ascii_case("none") => {
                ModelChoice::Off
            }
            Some(v) => ModelChoice::Static(PathBuf::from(v)),
            None => ModelChoice::Static(default_static_dir()),
        }
    }
}

/// Why no embedder is in use, for the "BM25 only" notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoModel {
    Disabled,
    Missing(PathBuf),
    Broken(String),
}

impl std::fmt::Display for NoModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoModel::Disabled => write!(f, "embeddings are turned off (POND_EMBED_MODEL=off)"),
            NoModel::Missing(dir) => write!(
                f,
                "no embedding model at {}; run `pond model distill` (or `make models`) to make one",
                dir.display()
            ),
            NoModel::Broken(reason) => write!(f, "{reason}"),
        }
    }
}

/// Loads the chosen model, or says why there is none. A missing model is not
/// an error: search falls back to BM25 and says so.
pub fn load(choice: &ModelChoice) -> Result<Box<dyn Embedder>, NoModel> {
    match choice {
        ModelChoice::Off => Err(NoModel::Disabled),
        ModelChoice::Static(dir) if !dir.join("model.safetensors").exists() => {
            Err(NoModel::Missing(dir.clone()))
        }
        ModelChoice::Static(dir) => StaticEmbedder::load(dir)
            .map(|e| Box::new(e) as Box<dyn Embedder>)
            .map_err(|e| NoModel::Broken(e.to_string())),
    }
}

/// A model loaded on first use: a sync with nothing new never pays for
/// loading one, and a long-lived agent loads it once.
pub struct Lazy {
    choice: ModelChoice,
    cell: std::sync::OnceLock<Result<Box<dyn Embedder>, NoModel>>,
}

impl Lazy {
    pub fn new(choice: ModelChoice) -> Lazy {
        Lazy {
            choice,
            cell: std::sync::OnceLock::new(),
        }
    }

    pub fn get(&self) -> Result<&dyn Embedder, &NoModel> {
        self.cell
            .get_or_init(|| load(&self.choice))
            .as_ref()
            .map(|e| e.as_ref())
    }
}
