//! A BERT tokenizer assembled from its parts rather than parsed from
//! `tokenizer.json`.
//!
//! A one-shot `pond search` with the transformer waits for its tokenizer
//! before it can embed the query, and the `tokenizers` crate's reader of
//! `tokenizer.json` spends about 20 ms (release build, this machine) taking
//! the file apart through untagged enums. A model whose
//! `tokenizer_config.json` declares a plain BERT tokenizer is the same
//! tokenizer built from `vocab.txt` and four settings, in about 6 ms
//! (docs/benchmarks.md). Any other model, or a missing file, keeps the
//! general reader: this is a shortcut, never a second behaviour, and the
//! integration test `rule59_…` holds the two to the same token ids.

use std::path::Path;

use serde::Deserialize;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{AddedToken, Model, Tokenizer};

/// What `tokenizer_config.json` says of a Hugging Face BERT tokenizer; the
/// defaults are that class's own.
#[derive(Deserialize)]
struct BertConfig {
    tokenizer_class: String,
    #[serde(default = "yes")]
    do_lower_case: bool,
    #[serde(default = "yes")]
    tokenize_chinese_chars: bool,
    #[serde(default)]
    strip_accents: Option<bool>,
    #[serde(default = "yes")]
    do_basic_tokenize: bool,
    #[serde(default)]
    never_split: Option<serde_json::Value>,
    #[serde(default = "unk")]
    unk_token: String,
    #[serde(default = "sep")]
    sep_token: String,
    #[serde(default = "cls")]
    cls_token: String,
    #[serde(default = "pad")]
    pad_token: String,
    #[serde(default = "mask")]
    mask_token: String,
}

fn yes() -> bool {
    true
}
fn unk() -> String {
    "[UNK]".into()
}
fn sep() -> String {
    "[SEP]".into()
}
fn cls() -> String {
    "[CLS]".into()
}
fn pad() -> String {
    "[PAD]".into()
}
fn mask() -> String {
    "[MASK]".into()
}

/// The longest word WordPiece splits; longer ones become the unknown token
/// (the BERT tokenizers' own limit).
const MAX_WORD_CHARS: usize = 100;

/// The tokenizer of the BERT model in `dir` and its padding id, built from
/// `vocab.txt` when `tokenizer_config.json` declares a plain BERT tokenizer;
/// `None` when it does not (the caller then reads `tokenizer.json`).
pub fn bert_from_parts(dir: &Path) -> Option<(Tokenizer, u32)> {
    let config: BertConfig =
        serde_json::from_slice(&std::fs::read(dir.join("tokenizer_config.json")).ok()?).ok()?;
    let plain = matches!(
        config.tokenizer_class.as_str(),
        "BertTokenizer" | "BertTokenizerFast"
    ) && config.do_basic_tokenize
        && config.never_split.as_ref().is_none_or(|v| v.is_null());
    if !plain {
        return None;
    }
    let vocab = dir.join("vocab.txt");
    let wordpiece = WordPiece::from_file(vocab.to_str()?)
        .unk_token(config.unk_token.clone())
        .continuing_subword_prefix("##".into())
        .max_input_chars_per_word(MAX_WORD_CHARS)
        .build()
        .ok()?;
    let id = |token: &str| wordpiece.token_to_id(token);
    let (cls, sep, pad) = (
        id(&config.cls_token)?,
        id(&config.sep_token)?,
        id(&config.pad_token)?,
    );
    let mut tokenizer = Tokenizer::new(wordpiece);
    tokenizer.with_normalizer(Some(BertNormalizer::new(
        true,
        config.tokenize_chinese_chars,
        config.strip_accents,
        config.do_lower_case,
    )));
    tokenizer.with_pre_tokenizer(Some(BertPreTokenizer));
    tokenizer.with_post_processor(Some(BertProcessing::new(
        (config.sep_token.clone(), sep),
        (config.cls_token.clone(), cls),
    )));
    // Typed literally, a special token is that token, as in tokenizer.json.
    let specials: Vec<AddedToken> = [
        &config.pad_token,
        &config.unk_token,
        &config.cls_token,
        &config.sep_token,
        &config.mask_token,
    ]
    .into_iter()
    .map(|t| AddedToken::from(t.clone(), true))
    .collect();
    tokenizer.add_special_tokens(&specials);
    Some((tokenizer, pad))
}
