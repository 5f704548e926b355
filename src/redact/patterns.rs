//! The pattern set: one or more named regular expressions per kind of
//! secret, and the rule that decides whether a match is one. Kept apart
//! from the masking so the set (what pond recognises, `docs/redaction.md`)
//! can be read and reviewed on its own.

use std::sync::OnceLock;

use regex::bytes::{Captures, Regex};

/// Which matches of a pattern are secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Accept {
    /// Every match.
    Always,
    /// `API_KEY: string` is a type annotation, `TOKEN=None` a default,
    /// `API_KEY = os.environ[…]` code: a value that is a type's or a
    /// constant's name, or a dotted name, is not a secret.
    NotAType,
    /// A lower- or mixed-case name is as often a variable as a setting
    /// (`token = get_token()`, `password: string`, `max_tokens: 4096`): the
    /// value must look like a secret, with 8 or more characters, a letter,
    /// and a digit or one of `+/=!@#$%^~`, and be neither a type's name, nor
    /// a dotted name, nor called (`load_key_v2(`).
    LooksSecret,
}

/// Names that follow `name:` in type annotations, or `name=` as defaults.
const TYPE_WORDS: &str = "any array arraybuffer bigint bool boolean buffer bytes char date dict \
    f32 f64 false float float64array function i128 i16 i32 i64 i8 int integer isize list map \
    never nil none null number object option optional promise record set str string symbol \
    true tuple u128 u16 u32 u64 u8 uint8array undefined unknown usize vec void";

impl Accept {
    pub(super) fn takes(self, c: &Captures<'_>) -> bool {
        let Some(value) = c.name("secret").map(|m| m.as_bytes()) else {
            return true;
        };
        match self {
            Accept::Always => true,
            Accept::NotAType => !is_type_word(value) && !is_dotted_name(value),
            Accept::LooksSecret => {
                value.len() >= 8
                    && value.iter().any(u8::is_ascii_alphabetic)
                    && value
                        .iter()
                        .any(|b| b.is_ascii_digit() || b"+/=!@#$%^~".contains(b))
                    && !is_type_word(value)
                    && !is_dotted_name(value)
                    && c.name("call").is_none()
            }
        }
    }
}

/// Whether `value` is a type's or a constant's name, alone or as a type
/// expression begins (`str`, `Option<String>`, `Optional[str]`, `null;`),
/// not as a part of a longer value (`string-s3cret`).
fn is_type_word(value: &[u8]) -> bool {
    let word_len = value
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
        .unwrap_or(value.len());
    let alone = value[word_len..]
        .first()
        .is_none_or(|b| b"<[(|?;,)>&".contains(b));
    let word = value[..word_len].to_ascii_lowercase();
    alone
        && TYPE_WORDS
            .split_ascii_whitespace()
            .any(|t| t.as_bytes() == word.as_slice())
}

/// Whether `value`, up to a call or an index, is a dotted name as code has
/// them (`os.environ`, `token.OP`, `process.env.API_KEY`, `os.getenv(`): two
/// or more short identifiers joined by dots. A token with a dot (`ya29.…`)
/// has a segment longer than an identifier's, or a character none has.
fn is_dotted_name(value: &[u8]) -> bool {
    let head = value
        .split(|b| *b == b'(' || *b == b'[')
        .next()
        .unwrap_or(value);
    let identifier = |segment: &[u8]| {
        segment.len() <= 32
            && segment
                .first()
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_' || *b == b'$')
            && segment
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'$')
    };
    head.contains(&b'.') && head.split(|b| *b == b'.').all(identifier)
}

/// One kind of secret. When the pattern has a group named `secret`, only
/// that group is masked (the key name or URL around it stays readable).
pub(super) struct Spec {
    pub(super) kind: &'static str,
    pub(super) source: &'static str,
    pub(super) accept: Accept,
}

pub(super) struct Pattern {
    pub(super) kind: &'static str,
    pub(super) regex: Regex,
    pub(super) accept: Accept,
}

const fn spec(kind: &'static str, source: &'static str) -> Spec {
    Spec {
        kind,
        source,
        accept: Accept::Always,
    }
}

/// The patterns, most specific first: a provider's key is named as such
/// before a generic assignment could claim it, and a value already masked
/// (`[REDACTED:…]`) is never masked again, since no generic value begins
/// with `[`.
pub(super) const PATTERNS: &[Spec] = &[
    // The body is JSON string content (escape pairs whole, no unescaped
    // quote): to the END line, or else, for a block cut short, to the end of
    // the text or of the JSON string holding it.
    spec(
        "private-key",
        r#"-----BEGIN [A-Z ]*PRIVATE KEY(?: BLOCK)?-----(?:(?:\s|\\[rn]|[A-Za-z0-9+/=])(?:[^"\\]|\\.)*?-----END [A-Z ]*PRIVATE KEY(?: BLOCK)?-----|(?:\s|\\[rn])(?:[^"\\]|\\.)*)"#,
    ),
    spec("anthropic-key", r"sk-ant-[A-Za-z0-9_-]{20,}"),
    spec(
        "openai-key",
        r"(?-u:\b)sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
    ),
    spec(
        "github-token",
        r"(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
    ),
    spec("aws-access-key-id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    spec(
        "aws-secret-access-key",
        r#"(?i)aws_secret_access_key(?:\\?["'])?[ \t]*[=:][ \t]*(?:\\?["'])?(?P<secret>[A-Za-z0-9/+=]{40})"#,
    ),
    spec("google-api-key", r"AIza[0-9A-Za-z_-]{35}"),
    spec("slack-token", r"xox[abposr]-[A-Za-z0-9-]{10,}"),
    spec("stripe-key", r"\b[sr]k_live_[A-Za-z0-9]{20,}"),
    // pond's own bearer tokens (`pond token create`): `pond_` and 64 hex
    // digits; 32 are enough to mask one shown cut short. (ASCII word
    // boundaries, `(?-u:\b)`, keep the fast engine on non-ASCII text.)
    spec("pond-token", r"(?-u:\b)pond_[0-9a-f]{32,}"),
    spec(
        "jwt",
        r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    ),
    // The user and the password stop at every character that cannot be in
    // a URL's userinfo unescaped or that ends a string or a word, so a match
    // never reaches from one JSON field to the next
    // (`{"url":"http://localhost:3000","package":"@types/node"}`).
    spec(
        "url-password",
        r#"[A-Za-z][A-Za-z0-9+.-]*://[^\s"'`\\/:@?#<>()\[\]{},;]+:(?P<secret>[^\s"'`\\/@?#<>()\[\]{},;]+)@"#,
    ),
    spec(
        "auth-header",
        r#"(?i)(?-u:\b)authorization(?:\\?["'])?[ \t]*[:=][ \t]*(?:\\?["'])?(?:bearer|basic|token)[ \t]+(?P<secret>[A-Za-z0-9._~+/-]{8,}=*)"#,
    ),
    // A JSON field whose name ends in a secret's name, with a string value,
    // as JSON (`"password": "…"`) or as JSON inside a JSON string
    // (`\"password\": \"…\"`).
    spec(
        "json-secret",
        r#"(?i)\\?"[A-Za-z0-9_.-]*(?:password|passwd|secret|token|api[_-]?key|private[_-]?key|access[_-]?key)\\?"[ \t]*:[ \t]*\\?"(?P<secret>[^\s"'`\\$<>{}()\[\],:;][^"\\\r\n]*)"#,
    ),
    // Assignments (`NAME=value`, `name: value`, `export NAME=…`, `--name=…`)
    // whose name holds a secret's name. Quoted: the literal up to its
    // closing quote, whatever the name's case (`DB_PASSWORD="…"`,
    // `password: '…'`, and `DB_PASSWORD=\"…\"` inside a JSON string).
    spec(
        "env-secret",
        r#"(?i)(?:(?m:^)|\\[nrt]|\\u[0-9a-f]{4}|[^A-Za-z0-9_\r\n\\])[A-Za-z0-9_.-]*(?:secret|token|password|passwd|api[_-]?key|private[_-]?key|access[_-]?key)(?:[_.-][A-Za-z0-9_.-]*)?[ \t]*[=:][ \t]*(?:\\"|"|')(?P<secret>[^\s"'`\\$<>{}()\[\],:;=|&][^"'`\\\r\n]*)"#,
    ),
    // Unquoted, an upper-case name (`.env` files, shell, YAML): the value
    // to the next space or quote, unless it names a type.
    Spec {
        kind: "env-secret",
        source: r#"(?:(?m:^)|\\[nrt]|\\u[0-9A-Fa-f]{4}|[^A-Za-z0-9_\r\n\\])[A-Z0-9_]*(?:SECRET|TOKEN|PASSWORD|PASSWD|API_KEY|APIKEY|PRIVATE_KEY|ACCESS_KEY)(?:_[A-Z0-9_]*)?[ \t]*[=:][ \t]*(?P<secret>[^\s"'`\\$<>{}()\[\],:;=|&][^\s"'`\\]*)"#,
        accept: Accept::NotAType,
    },
    // Unquoted, any other name (`db_password=…`, `api_key: …`): only a
    // value that looks like a secret, so code (`token = get_token()`) and
    // type annotations (`token: string`) stay readable.
    Spec {
        kind: "env-secret",
        source: r#"(?i)(?:(?m:^)|\\[nrt]|\\u[0-9a-f]{4}|[^A-Za-z0-9_\r\n\\])[A-Za-z0-9_.-]*(?:secret|token|password|passwd|api[_-]?key|private[_-]?key|access[_-]?key)(?:[_.-][A-Za-z0-9_.-]*)?[ \t]*[=:][ \t]*(?P<secret>[^\s"'`\\$<>{}()\[\],:;=|&][^\s"'`\\,;(){}\[\]<>&|]*)(?P<call>\()?"#,
        accept: Accept::LooksSecret,
    },
];

pub(super) fn patterns() -> &'static [Pattern] {
    static COMPILED: OnceLock<Vec<Pattern>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        PATTERNS
            .iter()
            .filter_map(|s| {
                // The set is fixed and tested (`every_pattern_compiles`); a
                // pattern that failed to compile would be dropped here rather
                // than panic a sync.
                Regex::new(s.source).ok().map(|regex| Pattern {
                    kind: s.kind,
                    regex,
                    accept: s.accept,
                })
            })
            .collect()
    })
}

/// The kinds of secret the set knows, for docs and tests.
pub fn kinds() -> Vec<&'static str> {
    let mut kinds: Vec<&'static str> = Vec::new();
    for s in PATTERNS {
        if !kinds.contains(&s.kind) {
            kinds.push(s.kind);
        }
    }
    kinds
}
