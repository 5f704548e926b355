//! A sentence-transformer run through ONNX Runtime, for users who want its
//! better paraphrase matching and can afford ~17 texts/s, and as the teacher
//! `pond model distill` makes the static model from.
//!
//! pond tokenizes, batches and pools itself (the `tokenizers` version the
//! static model already brings, and `ort`'s plain slices) rather than through
//! an embedding framework: that framework compiled a second `tokenizers`,
//! `safetensors` and `ndarray`, and batching texts of like length wastes less
//! of a slow model's time on padding. ONNX Runtime is loaded from a shared
//! library at run time (`ort` load-dynamic): nothing is downloaded at build
//! or run time.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::Tensor;
use tokenizers::{Tokenizer, TruncationParams};

use super::{EmbedError, Embedder};

/// The files of a transformer model, as `scripts/fetch-models.sh` lays them out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformerFiles {
    /// Holds `model.onnx` and `tokenizer.json`.
    pub model_dir: PathBuf,
    /// `libonnxruntime.so` (or `.dylib`).
    pub onnxruntime: PathBuf,
}

/// Tokens per text: all-MiniLM-L6-v2 was trained at 256.
const MAX_TOKENS: usize = 256;

/// Texts per forward pass. Texts are sorted by length first, so a batch pads
/// to its own longest text, not to the longest of the whole call.
const BATCH: usize = 32;

pub struct TransformerEmbedder {
    /// ONNX Runtime's session, opened at load or, for a process that
    /// embeds only one query, when a batch first needs it.
    runtime: OnceLock<Result<Runtime, String>>,
    files: TransformerFiles,
    threads: usize,
    /// The same model run by pond for one text at a time, when its float
    /// weights are there: a query needs no ONNX Runtime (rule 59).
    native: Option<super::bert::Bert>,
    tokenizer: Tokenizer,
    pad_id: u32,
    id: String,
    dimensions: usize,
    /// The width of the model's own vectors, before any projection.
    hidden: usize,
    /// Row-major `dimensions × teacher width` axes mapping the model's
    /// output to the store's vector width, when it is wider.
    projection: Option<Vec<f32>>,
    /// The static model whose vectors rows hold until the backlog reaches them.
    stand_in: Option<super::LazyStatic>,
}

/// When ONNX Runtime starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At load, so a broken runtime is reported there (`pond model status`,
    /// the backlog, a server).
    Now,
    /// When a batch first needs it: a one-shot search embeds its one query
    /// in process and never pays for it.
    WhenBatched,
}

struct Runtime {
    session: Mutex<Session>,
    /// BERT-style exports take segment ids; others refuse an unknown input.
    wants_token_types: bool,
}

/// ONNX Runtime allows one environment per process.
static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

fn environment(library: &Path) -> Result<ort::environment::Environment, String> {
    ENVIRONMENT
        .get_or_init(|| {
            ort::init_from(library)
                .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", library.display()))?
                .with_name("pond")
                // Nothing about a user's searches leaves the machine.
                .with_telemetry(false)
                .build()
                .map_err(|e| format!("cannot start ONNX Runtime: {e}"))
        })
        .clone()
}

impl TransformerEmbedder {
    pub fn load(
        files: &TransformerFiles,
        threads: usize,
        start: Start,
    ) -> Result<TransformerEmbedder, EmbedError> {
        let dir = &files.model_dir;
        let load_error = |reason: String| EmbedError::Load {
            path: dir.clone(),
            reason,
        };
        let read = |name: &str| {
            std::fs::read(dir.join(name)).map_err(|e| load_error(format!("{name}: {e}")))
        };
        let (mut tokenizer, pad_id) = match super::wordpiece::bert_from_parts(dir) {
            Some(built) => built,
            None => {
                let tokenizer = Tokenizer::from_bytes(read("tokenizer.json")?)
                    .map_err(|e| load_error(format!("tokenizer.json: {e}")))?;
                let pad_id = tokenizer.get_padding().map_or(0, |p| p.pad_id);
                (tokenizer, pad_id)
            }
        };
        // Exports ship a fixed padding and a shorter cut; pond pads each
        // batch itself and reads up to the length the model was trained at.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| load_error(format!("tokenizer.json: {e}")))?;
        let native = match super::bert::Bert::load(dir) {
            Ok(bert) => Some(bert),
            Err(why) => {
                tracing::debug!(model = %dir.display(), %why, "queries go through ONNX Runtime");
                None
            }
        };
        let id = format!(
            "onnx:{}",
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        let mut model = TransformerEmbedder {
            runtime: OnceLock::new(),
            files: files.clone(),
            threads,
            native,
            tokenizer,
            pad_id,
            id,
            dimensions: 0,
            hidden: 0,
            projection: None,
            stand_in: None,
        };
        if start == Start::Now || model.native.is_none() {
            model.runtime().map_err(|e| load_error(e.to_string()))?;
        }
        // A forward pass costs a one-shot search more than reading the
        // width the model's config states.
        model.dimensions = match hidden_size(dir) {
            Some(width) => width,
            None => model
                .embed(&["dimension probe".to_string()])
                .map_err(|e| load_error(e.to_string()))?
                .first()
                .map_or(0, Vec::len),
        };
        if model.dimensions == 0 {
            return Err(load_error("the model produced an empty vector".into()));
        }
        model.hidden = model.dimensions;
        Ok(model)
    }

    /// ONNX Runtime's session, started on first use.
    fn runtime(&self) -> Result<&Runtime, EmbedError> {
        self.runtime
            .get_or_init(|| {
                let env = environment(&self.files.onnxruntime)?;
                let session = open_session(&self.files.model_dir, &env, self.threads)?;
                let wants_token_types = session
                    .inputs()
                    .iter()
                    .any(|input| input.name() == "token_type_ids");
                Ok(Runtime {
                    session: Mutex::new(session),
                    wants_token_types,
                })
            })
            .as_ref()
            .map_err(|why| EmbedError::Embed(why.clone()))
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

    /// One forward pass over texts already tokenized: each text's vector is
    /// the mean of its tokens' last hidden states (how sentence-transformers
    /// pool), scaled to unit length.
    fn forward(&self, token_ids: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let rows = token_ids.len();
        let width = token_ids.iter().map(|t| t.len()).max().unwrap_or(0).max(1);
        let mut ids = vec![i64::from(self.pad_id); rows * width];
        let mut mask = vec![0i64; rows * width];
        for (row, tokens) in token_ids.iter().enumerate() {
            for (col, &token) in tokens.iter().enumerate() {
                ids[row * width + col] = i64::from(token);
                mask[row * width + col] = 1;
            }
        }
        let failed = |e: ort::Error| EmbedError::Embed(e.to_string());
        let shape = [rows, width];
        let mut inputs = ort::inputs![
            "input_ids" => Tensor::from_array((shape, ids)).map_err(failed)?,
            "attention_mask" => Tensor::from_array((shape, mask.clone())).map_err(failed)?,
        ];
        let runtime = self.runtime()?;
        if runtime.wants_token_types {
            let types = Tensor::from_array((shape, vec![0i64; rows * width])).map_err(failed)?;
            inputs.push(("token_type_ids".into(), types.into()));
        }
        let mut session = runtime
            .session
            .lock()
            .map_err(|_| EmbedError::Embed("the model is poisoned by an earlier panic".into()))?;
        let outputs = session.run(inputs).map_err(failed)?;
        let (out_shape, hidden) = outputs[0].try_extract_tensor::<f32>().map_err(failed)?;
        let &[out_rows, out_width, dims] = &out_shape[..] else {
            return Err(EmbedError::Embed(format!(
                "the model's first output has shape {out_shape:?}, not [texts, tokens, dimensions]"
            )));
        };
        if out_rows as usize != rows || out_width as usize != width {
            return Err(EmbedError::Embed(format!(
                "the model answered {out_rows}×{out_width} for {rows}×{width} tokens"
            )));
        }
        // The width was read from config.json, which a model swapped by hand
        // may not match.
        if self.hidden != 0 && dims as usize != self.hidden {
            return Err(EmbedError::Embed(format!(
                "the model's vectors have {dims} dimensions, not the {} its config.json states",
                self.hidden
            )));
        }
        Ok(mean_pool(hidden, &mask, width, dims as usize))
    }

    /// Gives rows `stand_in`'s vectors until the backlog embeds them with
    /// this model.
    pub fn with_stand_in(mut self, stand_in: Option<super::LazyStatic>) -> TransformerEmbedder {
        self.stand_in = stand_in;
        self
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

/// Opens the model's session. ONNX Runtime's graph optimisations cost more
/// than half of a cold load, which a one-shot `pond search` pays for every
/// query; so the first load saves the optimised graph to pond's cache, and
/// later loads read it back with optimisation off. The graph is saved with
/// its weights in a file of their own, which ONNX Runtime maps instead of
/// parsing: the same graph as one 90 MB protobuf took 0.12–0.21 s to load,
/// as a graph beside its weights 0.03 s. The cache is keyed by the model's
/// size and time, and is only valid on this machine (ONNX Runtime may fit it
/// to the CPU), which is why it lives in the cache, never beside the model.
fn open_session(
    dir: &Path,
    env: &ort::environment::Environment,
    threads: usize,
) -> Result<Session, String> {
    let source = dir.join("model.onnx");
    let onnx_error = |e: String| format!("model.onnx: {e}");
    let builder = || {
        Session::builder(env)
            .map_err(|e| onnx_error(e.to_string()))?
            .with_intra_threads(threads.max(1))
            .map_err(|e| onnx_error(e.to_string()))
    };
    let cached = optimized_dir(&source);
    if let Some(graph) = cached
        .as_ref()
        .map(|d| d.join(OPTIMIZED_GRAPH))
        .filter(|p| p.is_file())
    {
        let opened = builder()?
            .with_optimization_level(GraphOptimizationLevel::Disable)
            .map_err(|e| e.to_string())
            .and_then(|mut b| b.commit_from_file(&graph).map_err(|e| e.to_string()));
        match opened {
            Ok(session) => return Ok(session),
            // A cache spoiled by hand or by a full disk is made again below.
            Err(_) => {
                let _ = graph.parent().map(std::fs::remove_dir_all);
            }
        }
    }
    let mut optimizing = builder()?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| onnx_error(e.to_string()))?;
    // Written in a folder of its own and renamed after, so a reader never
    // sees half a graph; a cache that cannot be written only costs speed.
    let staging = cached.as_ref().and_then(|final_dir| {
        let tmp = final_dir.with_extension(format!("tmp{}", std::process::id()));
        std::fs::create_dir_all(&tmp).ok()?;
        // The single-file cache pond wrote before this layout.
        let _ = std::fs::remove_file(final_dir.with_extension("onnx"));
        Some((tmp, final_dir))
    });
    if let Some((tmp, _)) = &staging {
        optimizing = optimizing
            .with_optimized_model_path(tmp.join(OPTIMIZED_GRAPH))
            .map_err(|e| onnx_error(e.to_string()))?
            .with_config_entry(
                "session.optimized_model_external_initializers_file_name",
                OPTIMIZED_WEIGHTS,
            )
            .map_err(|e| onnx_error(e.to_string()))?
            .with_config_entry(
                "session.optimized_model_external_initializers_min_size_in_bytes",
                "1024",
            )
            .map_err(|e| onnx_error(e.to_string()))?;
    }
    let session = optimizing
        .commit_from_file(&source)
        .map_err(|e| onnx_error(e.to_string()))?;
    if let Some((tmp, final_dir)) = staging
        // Another process may have cached the same graph meanwhile.
        && std::fs::rename(&tmp, final_dir).is_err()
    {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(session)
}

/// The width of the model's vectors as its Hugging Face config states it.
fn hidden_size(dir: &Path) -> Option<usize> {
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).ok()?).ok()?;
    usize::try_from(config.get("hidden_size")?.as_u64()?).ok()
}

/// The optimised graph's file in its cache folder, and its weights' file
/// (named inside the graph, so it cannot be renamed after).
const OPTIMIZED_GRAPH: &str = "model.onnx";
const OPTIMIZED_WEIGHTS: &str = "weights.bin";

/// Where the optimised graph of `source` is cached: a folder whose name
/// changes whenever the model file does.
fn optimized_dir(source: &Path) -> Option<PathBuf> {
    let meta = std::fs::metadata(source).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    let name = source.parent()?.file_name()?.to_string_lossy().into_owned();
    Some(
        super::models_dir()
            .join("optimized")
            .join(format!("{name}-{}-{modified}", meta.len())),
    )
}

/// The mean of each row's unmasked token vectors, at unit length (the same
/// direction as their sum, so the sum is scaled directly).
fn mean_pool(hidden: &[f32], mask: &[i64], width: usize, dims: usize) -> Vec<Vec<f32>> {
    mask.chunks_exact(width)
        .zip(hidden.chunks_exact(width * dims))
        .map(|(row_mask, row)| {
            let mut sum = vec![0f32; dims];
            for (token, _) in row
                .chunks_exact(dims)
                .zip(row_mask)
                .filter(|(_, m)| **m == 1)
            {
                sum.iter_mut().zip(token).for_each(|(s, x)| *s += x);
            }
            let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                sum.iter_mut().for_each(|x| *x /= norm);
            }
            sum
        })
        .collect()
}

impl Embedder for TransformerEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedError::Embed(format!("tokenizing: {e}")))?;
        // One text, with no session started: the query of a one-shot search.
        if let ([encoding], Some(native), None) =
            (encodings.as_slice(), &self.native, self.runtime.get())
        {
            return Ok(vec![self.project(native.embed(encoding.get_ids()))]);
        }
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| encodings[i].get_ids().len());
        let mut out = vec![Vec::new(); texts.len()];
        for batch in order.chunks(BATCH) {
            let token_ids: Vec<&[u32]> = batch.iter().map(|&i| encodings[i].get_ids()).collect();
            for (&i, vector) in batch.iter().zip(self.forward(&token_ids)?) {
                out[i] = self.project(vector);
            }
        }
        Ok(out)
    }

    /// ~17 texts/s here: far too slow to hold up a sync, so its vectors come
    /// from the backlog.
    fn inline(&self) -> bool {
        false
    }

    fn contextual(&self) -> bool {
        true
    }

    fn stand_in(&self) -> Option<&dyn Embedder> {
        self.stand_in.as_ref().map(|s| s as &dyn Embedder)
    }
}
