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
    session: Mutex<Session>,
    tokenizer: Tokenizer,
    pad_id: u32,
    /// BERT-style exports take segment ids; others refuse an unknown input.
    wants_token_types: bool,
    id: String,
    dimensions: usize,
    /// Row-major `dimensions × teacher width` axes mapping the model's
    /// output to the store's vector width, when it is wider.
    projection: Option<Vec<f32>>,
    /// The static model whose vectors rows hold until the backlog reaches them.
    stand_in: Option<super::StaticEmbedder>,
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
        let mut tokenizer = Tokenizer::from_bytes(read("tokenizer.json")?)
            .map_err(|e| load_error(format!("tokenizer.json: {e}")))?;
        // Exports ship a fixed padding and a shorter cut; pond pads each
        // batch itself and reads up to the length the model was trained at.
        let pad_id = tokenizer.get_padding().map_or(0, |p| p.pad_id);
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| load_error(format!("tokenizer.json: {e}")))?;
        let env = environment(&files.onnxruntime).map_err(load_error)?;
        let session = open_session(dir, &env, threads).map_err(load_error)?;
        let wants_token_types = session
            .inputs()
            .iter()
            .any(|input| input.name() == "token_type_ids");
        let id = format!(
            "onnx:{}",
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        let mut model = TransformerEmbedder {
            session: Mutex::new(session),
            tokenizer,
            pad_id,
            wants_token_types,
            id,
            dimensions: 0,
            projection: None,
            stand_in: None,
        };
        model.dimensions = model
            .embed(&["dimension probe".to_string()])
            .map_err(|e| load_error(e.to_string()))?
            .first()
            .map_or(0, Vec::len);
        if model.dimensions == 0 {
            return Err(load_error("the model produced an empty vector".into()));
        }
        Ok(model)
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
        if self.wants_token_types {
            let types = Tensor::from_array((shape, vec![0i64; rows * width])).map_err(failed)?;
            inputs.push(("token_type_ids".into(), types.into()));
        }
        let mut session = self
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
        Ok(mean_pool(hidden, &mask, width, dims as usize))
    }

    /// Gives rows `stand_in`'s vectors until the backlog embeds them with
    /// this model.
    pub fn with_stand_in(mut self, stand_in: Option<super::StaticEmbedder>) -> TransformerEmbedder {
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
/// than half of a cold load (0.42 s against 0.18 s here), which a one-shot
/// `pond search` pays for every query; so the first load saves the
/// optimised graph to pond's cache, and later loads read it back with
/// optimisation off. The file is keyed by the model's size and time, and is
/// only valid on this machine (ONNX Runtime may fit it to the CPU), which is
/// why it lives in the cache, never beside the model.
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
    let optimized = optimized_path(&source);
    if let Some(path) = optimized.as_ref().filter(|p| p.is_file()) {
        let opened = builder()?
            .with_optimization_level(GraphOptimizationLevel::Disable)
            .map_err(|e| e.to_string())
            .and_then(|mut b| b.commit_from_file(path).map_err(|e| e.to_string()));
        match opened {
            Ok(session) => return Ok(session),
            // A file cut short by a crash is made again below.
            Err(_) => {
                let _ = std::fs::remove_file(path);
            }
        }
    }
    let mut optimizing = builder()?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| onnx_error(e.to_string()))?;
    // Written beside its final name and renamed after, so a reader never
    // sees half a file; a cache that cannot be written only costs speed.
    let staging = optimized.as_ref().and_then(|path| {
        std::fs::create_dir_all(path.parent()?).ok()?;
        Some((
            path.with_extension(format!("{}.tmp", std::process::id())),
            path,
        ))
    });
    if let Some((tmp, _)) = &staging {
        optimizing = optimizing
            .with_optimized_model_path(tmp)
            .map_err(|e| onnx_error(e.to_string()))?;
    }
    let session = optimizing
        .commit_from_file(&source)
        .map_err(|e| onnx_error(e.to_string()))?;
    if let Some((tmp, path)) = staging
        && std::fs::rename(&tmp, path).is_err()
    {
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(session)
}

/// Where the optimised graph of `source` is cached: a name that changes
/// whenever the model file does.
fn optimized_path(source: &Path) -> Option<PathBuf> {
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
            .join(format!("{name}-{}-{modified}.onnx", meta.len())),
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
