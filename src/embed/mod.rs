//! Local, offline text embeddings for the vector arm of search.
//!
//! Search and sync depend only on the [`Embedder`] trait, so the model behind
//! it can change (the fast static model by default, a transformer when a user
//! opts in) without touching either. Every vector is stored with the id of the
//! model that made it, because distances between vectors of two models mean
//! nothing.

mod bert;
pub mod distill;
pub mod linalg;
mod static_model;
mod transformer;
pub mod wordpiece;

use std::path::{Path, PathBuf};

pub use static_model::{LazyStatic, StaticEmbedder};
pub use transformer::{Start, TransformerEmbedder, TransformerFiles};

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
    /// Fast enough to embed every row while syncing. A model that is not
    /// leaves its rows to the backlog (`pond model reembed`, or `pond agent`
    /// between rounds), so a sync never waits for it.
    fn inline(&self) -> bool {
        true
    }
    /// Reads each word in its context (a transformer), so its similarities
    /// rank well far down the list, not only at the top; search fuses such
    /// a model's arm by score rather than by rank.
    fn contextual(&self) -> bool {
        false
    }
    /// A fast model whose vectors stand in for this one's until the backlog
    /// reaches a row: a sync embeds with it at once, and a search reads its
    /// vectors for the rows still waiting, so no row goes unfound by meaning.
    fn stand_in(&self) -> Option<&dyn Embedder> {
        None
    }
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
    /// A sentence-transformer (opt-in), projected to the store's width by
    /// the axes `pond model distill` wrote when it distilled from it.
    Transformer {
        files: TransformerFiles,
        projection: PathBuf,
    },
    /// No vectors: BM25 only.
    Off,
}

impl ModelChoice {
    /// `POND_EMBED_MODEL`, else the config file's `[search] model`, else the
    /// default directory. Either may name a static model's directory, say
    /// `transformer` (the fetched MiniLM) or `transformer:DIR`, or say `off`.
    pub fn resolve(configured: Option<&str>) -> ModelChoice {
        let env = std::env::var("POND_EMBED_MODEL")
            .ok()
            .filter(|v| !v.is_empty());
        match env.as_deref().or(configured) {
            Some(v) if v.eq_ignore_ascii_case("off") || v.eq_ignore_ascii_case("none") => {
                ModelChoice::Off
            }
            Some("transformer") => ModelChoice::transformer(default_teacher_dir()),
            Some(v) => match v.strip_prefix("transformer:") {
                Some(dir) => ModelChoice::transformer(PathBuf::from(dir)),
                None => ModelChoice::Static(PathBuf::from(v)),
            },
            None => ModelChoice::Static(default_static_dir()),
        }
    }

    fn transformer(model_dir: PathBuf) -> ModelChoice {
        ModelChoice::Transformer {
            files: TransformerFiles {
                model_dir,
                onnxruntime: default_onnxruntime(),
            },
            projection: default_static_dir().join(distill::PROJECTION_FILE),
        }
    }

    /// How `pond config show` prints the choice.
    pub fn describe(&self) -> String {
        match self {
            ModelChoice::Static(dir) => dir.display().to_string(),
            ModelChoice::Transformer { files, .. } => {
                format!("transformer:{}", files.model_dir.display())
            }
            ModelChoice::Off => "off".to_string(),
        }
    }
}

/// Where `scripts/fetch-models.sh` puts the teacher transformer.
pub fn default_teacher_dir() -> PathBuf {
    models_dir().join("sources").join("minilm")
}

/// Where `scripts/fetch-models.sh` puts ONNX Runtime's shared library.
pub fn default_onnxruntime() -> PathBuf {
    models_dir()
        .join("sources")
        .join("onnxruntime")
        .join(ONNXRUNTIME_LIB)
}

#[cfg(target_os = "macos")]
const ONNXRUNTIME_LIB: &str = "libonnxruntime.dylib";
#[cfg(not(target_os = "macos"))]
const ONNXRUNTIME_LIB: &str = "libonnxruntime.so";

/// ONNX Runtime's Linux build carries Microsoft's event telemetry, and
/// sets up its local event store (`~/.cache/Microsoft/DeveloperTools`)
/// whenever it starts, before any session option can turn it off; pond's
/// embeddings are offline, so it is turned off where ONNX Runtime reads that
/// first, its environment. This also spares a cold search the ~10 ms the
/// store costs. A value the user set is kept.
///
/// # Safety
/// Call before any other thread exists: it writes the environment.
pub unsafe fn keep_onnx_runtime_offline() {
    if std::env::var_os("ORT_DISABLE_TELEMETRY").is_none() {
        // SAFETY: the caller guarantees no other thread reads the environment.
        unsafe { std::env::set_var("ORT_DISABLE_TELEMETRY", "1") };
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
            // An installed pond has no Makefile: the install line brings
            // the models, `make models` is for a clone.
            NoModel::Missing(path) if is_transformer_file(path) => write!(
                f,
                "the transformer is not installed ({} is missing); run the install line with POND_INSTALL_TRANSFORMER=1, or `make models` in a clone of pond",
                path.display()
            ),
            NoModel::Missing(path) => write!(
                f,
                "no embedding model at {}; run the install line again (it brings the model), or `make models` in a clone of pond",
                path.display()
            ),
            NoModel::Broken(reason) => write!(f, "{reason}"),
        }
    }
}

fn is_transformer_file(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n == "model.onnx" || n == ONNXRUNTIME_LIB)
}

/// Loads the chosen model, or says why there is none. A missing model is not
/// an error: search falls back to BM25 and says so.
pub fn load(choice: &ModelChoice, start: Start) -> Result<Box<dyn Embedder>, NoModel> {
    match choice {
        ModelChoice::Off => Err(NoModel::Disabled),
        ModelChoice::Static(dir) if !dir.join("model.safetensors").exists() => {
            Err(NoModel::Missing(dir.clone()))
        }
        ModelChoice::Static(dir) => StaticEmbedder::load(dir)
            .map(|e| Box::new(e) as Box<dyn Embedder>)
            .map_err(|e| NoModel::Broken(e.to_string())),
        ModelChoice::Transformer { files, projection } => {
            for needed in [&files.model_dir.join("model.onnx"), &files.onnxruntime] {
                if !needed.exists() {
                    return Err(NoModel::Missing(needed.clone()));
                }
            }
            // Rule 28: a transformer without the PCA axes distilled from it is refused,
            // with the command that makes them.
            if !distilled_from(projection, &files.model_dir) {
                return Err(NoModel::Broken(format!(
                    "{} is missing or was not made from {}; run `pond model distill --from {}` to make it",
                    projection.display(),
                    files.model_dir.display(),
                    files.model_dir.display()
                )));
            }
            let threads = transformer_threads();
            // The static model distilled beside the axes stands in for it.
            let stand_in = projection.parent().and_then(LazyStatic::at);
            TransformerEmbedder::load(files, threads, start)
                .and_then(|e| e.projected(projection))
                .map(|e| Box::new(e.with_stand_in(stand_in)) as Box<dyn Embedder>)
                .map_err(|e| NoModel::Broken(e.to_string()))
        }
    }
}

/// Threads the transformer may use: every core unless `POND_EMBED_THREADS`
/// says fewer. It only runs in the backlog or for one query, but a laptop
/// whose agent drains a backlog may want a core kept free.
fn transformer_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::env::var("POND_EMBED_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .map_or(cores, |n| n.min(cores))
}

/// Whether the projection axes at `projection` were computed from the
/// transformer in `teacher`: axes of another model would scramble its vectors.
fn distilled_from(projection: &Path, teacher: &Path) -> bool {
    let config = projection.with_file_name("config.json");
    let recorded = std::fs::read(&config)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get("teacher").and_then(|t| t.as_str()).map(PathBuf::from))
        // A release archive records its teacher relative to the static
        // model's directory, since it is unpacked under each user's home.
        .map(|t| match projection.parent() {
            Some(dir) if t.is_relative() => dir.join(t),
            _ => t,
        });
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    projection.exists() && recorded.is_some_and(|r| same(&r, teacher))
}

/// A model loaded on first use: a sync with nothing new never pays for
/// loading one, and a long-lived agent loads it once.
pub struct Lazy {
    choice: ModelChoice,
    start: Start,
    cell: std::sync::OnceLock<Result<Box<dyn Embedder>, NoModel>>,
}

impl Lazy {
    pub fn new(choice: ModelChoice) -> Lazy {
        Lazy {
            choice,
            start: Start::Now,
            cell: std::sync::OnceLock::new(),
        }
    }

    /// The same model for a process that embeds one query: a transformer
    /// runs it in process and starts ONNX Runtime only if a batch follows.
    pub fn for_one_query(&self) -> Lazy {
        Lazy {
            choice: self.choice.clone(),
            start: Start::WhenBatched,
            cell: std::sync::OnceLock::new(),
        }
    }

    pub fn get(&self) -> Result<&dyn Embedder, &NoModel> {
        self.cell
            .get_or_init(|| load(&self.choice, self.start))
            .as_ref()
            .map(|e| e.as_ref())
    }
}
