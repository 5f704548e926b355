//! A BERT encoder's forward pass for one text, run by pond itself from the
//! model's float weights, so that a one-shot `pond search` can embed its
//! query without starting ONNX Runtime.
//!
//! Starting ONNX Runtime (its library, its environment, a session over the
//! optimised graph) cost a cold search about 90 ms of a 190 ms run, to embed
//! a dozen tokens. The same all-MiniLM-L6-v2 ships its weights as
//! `model.safetensors`, which this maps rather than reads: loading is a
//! header parse, and six layers over a short query are about 10 ms of
//! matrix products at release optimisation. ONNX Runtime still embeds
//! everything in batches (the backlog, `pond serve` once it is loaded),
//! where its int8 kernels are faster. The two agree to a cosine of 0.998 or
//! better (0.9993–0.9998 on real questions; rule 59), so a query's vector
//! compares with the documents' whichever computed it.

use std::collections::HashMap;
use std::path::Path;

use memmap2::Mmap;

/// The encoder's sizes, as its Hugging Face `config.json` states them.
#[derive(Debug, Clone, Copy)]
struct Shape {
    layers: usize,
    heads: usize,
    hidden: usize,
    intermediate: usize,
    positions: usize,
    layer_norm_eps: f32,
}

impl Shape {
    fn read(dir: &Path) -> Result<Shape, String> {
        let bytes =
            std::fs::read(dir.join("config.json")).map_err(|e| format!("config.json: {e}"))?;
        let config: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("config.json: {e}"))?;
        if config.get("model_type").and_then(|v| v.as_str()) != Some("bert") {
            return Err("config.json: not a BERT encoder".into());
        }
        // Other activations and position schemes would need other code.
        let plain = config.get("hidden_act").and_then(|v| v.as_str()) == Some("gelu")
            && config
                .get("position_embedding_type")
                .and_then(|v| v.as_str())
                .is_none_or(|p| p == "absolute");
        if !plain {
            return Err("config.json: an activation or position scheme pond does not run".into());
        }
        let size = |key: &str| {
            config
                .get(key)
                .and_then(|v| v.as_u64())
                .and_then(|v| usize::try_from(v).ok())
                .filter(|&v| v > 0)
                .ok_or_else(|| format!("config.json: no {key}"))
        };
        let shape = Shape {
            layers: size("num_hidden_layers")?,
            heads: size("num_attention_heads")?,
            hidden: size("hidden_size")?,
            intermediate: size("intermediate_size")?,
            positions: size("max_position_embeddings")?,
            layer_norm_eps: config
                .get("layer_norm_eps")
                .and_then(|v| v.as_f64())
                .unwrap_or(1e-12) as f32,
        };
        if !shape.hidden.is_multiple_of(shape.heads) {
            return Err("config.json: hidden_size is not a multiple of the heads".into());
        }
        Ok(shape)
    }
}

/// The weights, mapped from `model.safetensors`, each tensor known by its
/// name and the range of floats it holds.
pub struct Bert {
    shape: Shape,
    map: Mmap,
    /// Where the data section starts in the file.
    data_start: usize,
    tensors: HashMap<String, (usize, usize)>,
}

/// One layer's weights, as views into the map.
struct Layer<'a> {
    query: Linear<'a>,
    key: Linear<'a>,
    value: Linear<'a>,
    attention_out: Linear<'a>,
    attention_norm: Norm<'a>,
    intermediate: Linear<'a>,
    output: Linear<'a>,
    output_norm: Norm<'a>,
}

/// `y = x Wᵀ + b`, with `W` stored `[out][in]` as PyTorch keeps it.
struct Linear<'a> {
    weight: &'a [f32],
    bias: &'a [f32],
    inputs: usize,
    outputs: usize,
}

struct Norm<'a> {
    weight: &'a [f32],
    bias: &'a [f32],
}

impl Bert {
    /// Maps `dir/model.safetensors` and checks every tensor the encoder
    /// reads is there, in f32 and of the size the config states.
    pub fn load(dir: &Path) -> Result<Bert, String> {
        let shape = Shape::read(dir)?;
        let path = dir.join("model.safetensors");
        let file = std::fs::File::open(&path).map_err(|e| format!("model.safetensors: {e}"))?;
        // SAFETY: the map is read-only and pond never writes model files; a
        // file truncated under a running search is the one hazard, the same
        // one every mapped-weights runtime accepts.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| format!("model.safetensors: {e}"))?;
        let (header_len, header) = safetensors::SafeTensors::read_metadata(&map)
            .map_err(|e| format!("model.safetensors: {e}"))?;
        let data_start = 8 + header_len;
        let mut tensors = HashMap::new();
        for (name, info) in header.tensors() {
            if info.dtype != safetensors::Dtype::F32 {
                continue;
            }
            let (begin, end) = info.data_offsets;
            tensors.insert(name.clone(), (begin, end));
        }
        let bert = Bert {
            shape,
            map,
            data_start,
            tensors,
        };
        bert.check()?;
        Ok(bert)
    }

    /// Every tensor present, aligned and sized as the config says, so
    /// that `embed` cannot fail halfway.
    fn check(&self) -> Result<(), String> {
        let s = self.shape;
        let mut expect = vec![
            ("embeddings.word_embeddings.weight".to_string(), None),
            (
                "embeddings.position_embeddings.weight".to_string(),
                Some(s.positions * s.hidden),
            ),
            ("embeddings.token_type_embeddings.weight".to_string(), None),
            ("embeddings.LayerNorm.weight".to_string(), Some(s.hidden)),
            ("embeddings.LayerNorm.bias".to_string(), Some(s.hidden)),
        ];
        for layer in 0..s.layers {
            let p = format!("encoder.layer.{layer}");
            let square = s.hidden * s.hidden;
            let wide = s.hidden * s.intermediate;
            // Each module of a layer has a weight and a bias: their lengths.
            for (module, weight, bias) in [
                ("attention.self.query", square, s.hidden),
                ("attention.self.key", square, s.hidden),
                ("attention.self.value", square, s.hidden),
                ("attention.output.dense", square, s.hidden),
                ("attention.output.LayerNorm", s.hidden, s.hidden),
                ("intermediate.dense", wide, s.intermediate),
                ("output.dense", wide, s.hidden),
                ("output.LayerNorm", s.hidden, s.hidden),
            ] {
                expect.push((format!("{p}.{module}.weight"), Some(weight)));
                expect.push((format!("{p}.{module}.bias"), Some(bias)));
            }
        }
        for (name, len) in expect {
            let found = self
                .floats(&name)
                .ok_or_else(|| format!("model.safetensors: no f32 tensor {name}"))?;
            let fits = match len {
                Some(len) => found.len() == len,
                None => !found.is_empty() && found.len().is_multiple_of(s.hidden),
            };
            if !fits {
                return Err(format!(
                    "model.safetensors: {name} has {} values, not what config.json implies",
                    found.len()
                ));
            }
        }
        Ok(())
    }

    /// A tensor's floats in place; `None` when absent, or when the file lays
    /// it out where floats cannot be read in place (a misaligned data
    /// section, or a big-endian machine).
    fn floats(&self, name: &str) -> Option<&[f32]> {
        let &(begin, end) = self.tensors.get(name)?;
        let bytes = self
            .map
            .get(self.data_start + begin..self.data_start + end)?;
        if cfg!(target_endian = "big") {
            return None;
        }
        bytemuck::try_cast_slice(bytes).ok()
    }

    /// A tensor `check` has vouched for.
    fn tensor(&self, name: &str) -> &[f32] {
        self.floats(name).unwrap_or(&[])
    }

    fn linear(&self, prefix: &str, inputs: usize, outputs: usize) -> Linear<'_> {
        Linear {
            weight: self.tensor(&format!("{prefix}.weight")),
            bias: self.tensor(&format!("{prefix}.bias")),
            inputs,
            outputs,
        }
    }

    fn norm(&self, prefix: &str) -> Norm<'_> {
        Norm {
            weight: self.tensor(&format!("{prefix}.weight")),
            bias: self.tensor(&format!("{prefix}.bias")),
        }
    }

    fn layer(&self, index: usize) -> Layer<'_> {
        let p = format!("encoder.layer.{index}");
        let (h, i) = (self.shape.hidden, self.shape.intermediate);
        Layer {
            query: self.linear(&format!("{p}.attention.self.query"), h, h),
            key: self.linear(&format!("{p}.attention.self.key"), h, h),
            value: self.linear(&format!("{p}.attention.self.value"), h, h),
            attention_out: self.linear(&format!("{p}.attention.output.dense"), h, h),
            attention_norm: self.norm(&format!("{p}.attention.output.LayerNorm")),
            intermediate: self.linear(&format!("{p}.intermediate.dense"), h, i),
            output: self.linear(&format!("{p}.output.dense"), i, h),
            output_norm: self.norm(&format!("{p}.output.LayerNorm")),
        }
    }

    /// The mean of the last layer's token vectors for one tokenized text,
    /// at unit length: what sentence-transformers' mean pooling gives.
    /// Tokens past the model's positions are dropped.
    pub fn embed(&self, token_ids: &[u32]) -> Vec<f32> {
        let s = self.shape;
        let tokens = &token_ids[..token_ids.len().min(s.positions)];
        let n = tokens.len();
        if n == 0 {
            return vec![0.0; s.hidden];
        }
        let mut x = self.embeddings(tokens);
        for index in 0..s.layers {
            x = self.encode(&self.layer(index), x, n);
        }
        let mut pooled = vec![0f32; s.hidden];
        for token in x.chunks_exact(s.hidden) {
            pooled.iter_mut().zip(token).for_each(|(p, v)| *p += v);
        }
        let norm = pooled.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            pooled.iter_mut().for_each(|v| *v /= norm);
        }
        pooled
    }

    /// Word, position and segment (all zero) embeddings, summed and normed.
    fn embeddings(&self, tokens: &[u32]) -> Vec<f32> {
        let h = self.shape.hidden;
        let words = self.tensor("embeddings.word_embeddings.weight");
        let positions = self.tensor("embeddings.position_embeddings.weight");
        let segment = &self.tensor("embeddings.token_type_embeddings.weight")[..h];
        let mut x = Vec::with_capacity(tokens.len() * h);
        for (position, &token) in tokens.iter().enumerate() {
            let start = token as usize * h;
            // A token beyond the table (a tokenizer from another model)
            // reads as padding rather than out of bounds.
            let word = words.get(start..start + h).unwrap_or(&words[..h]);
            let place = &positions[position * h..(position + 1) * h];
            x.extend((0..h).map(|d| word[d] + place[d] + segment[d]));
        }
        layer_norm(
            &mut x,
            &self.norm("embeddings.LayerNorm"),
            self.shape.layer_norm_eps,
        );
        x
    }

    /// One encoder layer: self-attention, then the feed-forward block, each
    /// added back and normed (BERT's post-norm order).
    fn encode(&self, layer: &Layer<'_>, x: Vec<f32>, n: usize) -> Vec<f32> {
        let s = self.shape;
        let q = layer.query.apply(&x, n);
        let k = layer.key.apply(&x, n);
        let v = layer.value.apply(&x, n);
        let context = attend(&q, &k, &v, n, s.heads, s.hidden);
        let mut attended = layer.attention_out.apply(&context, n);
        attended.iter_mut().zip(&x).for_each(|(a, r)| *a += r);
        layer_norm(&mut attended, &layer.attention_norm, s.layer_norm_eps);
        let mut inner = layer.intermediate.apply(&attended, n);
        inner.iter_mut().for_each(|v| *v = gelu(*v));
        let mut out = layer.output.apply(&inner, n);
        out.iter_mut().zip(&attended).for_each(|(o, r)| *o += r);
        layer_norm(&mut out, &layer.output_norm, s.layer_norm_eps);
        out
    }
}

impl Linear<'_> {
    /// `x` is `n × inputs`, row-major; the answer `n × outputs`.
    fn apply(&self, x: &[f32], n: usize) -> Vec<f32> {
        let mut y: Vec<f32> = self
            .bias
            .iter()
            .copied()
            .cycle()
            .take(n * self.outputs)
            .collect();
        // Wᵀ read in place: element (i, j) of Wᵀ is W[j][i].
        product(
            (n, self.inputs, self.outputs),
            1.0,
            (x, self.inputs, 1),
            (self.weight, 1, self.inputs),
            (&mut y, self.outputs, 1),
        );
        y
    }
}

/// A strided view: the slice, its row stride and its column stride.
type View<'a> = (&'a [f32], usize, usize);

/// `c += alpha · a · b` for an `m × k` `a` and a `k × n` `b`, all strided.
fn product(
    (m, k, n): (usize, usize, usize),
    alpha: f32,
    a: View<'_>,
    b: View<'_>,
    c: (&mut [f32], usize, usize),
) {
    let (a, a_row, a_col) = a;
    let (b, b_row, b_col) = b;
    let (c, c_row, c_col) = c;
    let last = |rows: usize, cols: usize, row: usize, col: usize| {
        (rows.max(1) - 1) * row + (cols.max(1) - 1) * col
    };
    // Bounds matrixmultiply trusts the caller with, checked here once.
    assert!(a.len() > last(m, k, a_row, a_col));
    assert!(b.len() > last(k, n, b_row, b_col));
    assert!(c.len() > last(m, n, c_row, c_col));
    let stride = |v: usize| isize::try_from(v).unwrap_or(isize::MAX);
    // SAFETY: the asserts above keep every index the product reads or
    // writes inside its slice, and `c` does not alias `a` or `b`.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            stride(a_row),
            stride(a_col),
            b.as_ptr(),
            stride(b_row),
            stride(b_col),
            1.0,
            c.as_mut_ptr(),
            stride(c_row),
            stride(c_col),
        );
    }
}

/// Scaled dot-product attention over all `n` tokens (one text, so no
/// padding to mask), head by head; `q`, `k`, `v` are `n × hidden`.
fn attend(q: &[f32], k: &[f32], v: &[f32], n: usize, heads: usize, hidden: usize) -> Vec<f32> {
    let width = hidden / heads;
    let scale = 1.0 / (width as f32).sqrt();
    let mut context = vec![0f32; n * hidden];
    let mut scores = vec![0f32; n * n];
    for head in 0..heads {
        let at = head * width;
        scores.iter_mut().for_each(|s| *s = 0.0);
        // scores = q_h · k_hᵀ, with k_hᵀ read in place.
        product(
            (n, width, n),
            scale,
            (&q[at..], hidden, 1),
            (&k[at..], 1, hidden),
            (&mut scores, n, 1),
        );
        for row in scores.chunks_exact_mut(n) {
            softmax(row);
        }
        product(
            (n, n, width),
            1.0,
            (&scores, n, 1),
            (&v[at..], hidden, 1),
            (&mut context[at..], hidden, 1),
        );
    }
    context
}

fn softmax(row: &mut [f32]) {
    let top = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - top).exp();
        sum += *v;
    }
    row.iter_mut().for_each(|v| *v /= sum);
}

fn layer_norm(x: &mut [f32], norm: &Norm<'_>, eps: f32) {
    let width = norm.weight.len();
    for row in x.chunks_exact_mut(width) {
        let mean = row.iter().sum::<f32>() / width as f32;
        let variance = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / width as f32;
        let inverse = 1.0 / (variance + eps).sqrt();
        for (d, v) in row.iter_mut().enumerate() {
            *v = (*v - mean) * inverse * norm.weight[d] + norm.bias[d];
        }
    }
}

/// BERT's exact GELU, `x · Φ(x)`.
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + libm::erff(x / std::f32::consts::SQRT_2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_is_a_distribution_even_for_large_scores() {
        let mut row = [1000.0, 1001.0, 999.0];
        softmax(&mut row);
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(row[1] > row[0] && row[0] > row[2]);
    }

    #[test]
    fn gelu_matches_its_known_values() {
        assert!(gelu(0.0).abs() < 1e-7);
        assert!((gelu(1.0) - 0.841_344_7).abs() < 1e-5);
        assert!((gelu(-1.0) + 0.158_655_3).abs() < 1e-5);
    }

    #[test]
    fn the_product_reads_a_transpose_in_place() {
        // x (1×2) · Wᵀ where W is [[1, 2], [3, 4], [5, 6]] (3 outputs × 2 inputs).
        let w = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let linear = Linear {
            weight: &w,
            bias: &[0.5, 0.5, 0.5],
            inputs: 2,
            outputs: 3,
        };
        assert_eq!(linear.apply(&[1.0, 1.0], 1), vec![3.5, 7.5, 11.5]);
    }
}
