//! Cutting a byte range of a JSONL file into records without losing a byte.
//!
//! Every byte read belongs to exactly one segment, so concatenating segments
//! reproduces the file. A trailing line that does not yet parse is left for the
//! next sync (the client is still writing it); one that parses completely is a
//! finished record that merely lacks its newline, which real files do have.

use serde_json::Value;

/// A run of bytes that forms one record: a line with its newline, or a
/// complete unterminated last line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment<'a> {
    /// Absolute byte offset in the file.
    pub offset: u64,
    /// 1-based line number of the first byte.
    pub line: u64,
    pub bytes: &'a [u8],
}

impl Segment<'_> {
    pub fn terminated(&self) -> bool {
        self.bytes.last() == Some(&b'\n')
    }
}

/// Segments `buf` (the file's bytes from `base_offset`, at line `base_line`).
/// Returns the segments and how many bytes of `buf` they cover.
pub fn split(buf: &[u8], base_offset: u64, base_line: u64) -> (Vec<Segment<'_>>, usize) {
    let mut segments = Vec::new();
    let mut start = 0;
    let mut line = base_line;
    for i in memchr::memchr_iter(b'\n', buf) {
        segments.push(Segment {
            offset: base_offset + start as u64,
            line,
            bytes: &buf[start..=i],
        });
        start = i + 1;
        line += 1;
    }
    // Rule 4: an unterminated last line is a record only once it is complete JSON;
    // otherwise it waits for the next sync.
    let tail = &buf[start..];
    if !tail.is_empty() && is_complete_json(tail) {
        segments.push(Segment {
            offset: base_offset + start as u64,
            line,
            bytes: tail,
        });
        start = buf.len();
    }
    (segments, start)
}

/// Cuts `buf` into records of the given lengths (an adapter's cut of a text
/// file); lengths past the end of `buf` are ignored.
pub fn cut<'a>(
    buf: &'a [u8],
    lengths: &[usize],
    base_offset: u64,
    base_line: u64,
) -> (Vec<Segment<'a>>, usize) {
    let mut segments = Vec::with_capacity(lengths.len());
    let (mut start, mut line) = (0usize, base_line);
    for &len in lengths {
        let Some(bytes) = buf.get(start..start + len).filter(|b| !b.is_empty()) else {
            break;
        };
        segments.push(Segment {
            offset: base_offset + start as u64,
            line,
            bytes,
        });
        line += memchr::memchr_iter(b'\n', bytes).count() as u64;
        start += len;
    }
    (segments, start)
}

/// A text record as the adapter sees it: its text as one JSON string
/// (invalid UTF-8 replaced; the raw bytes keep the original).
pub fn text(bytes: &[u8]) -> Parsed {
    if bytes.trim_ascii().is_empty() {
        return Parsed::Blank;
    }
    Parsed::Values(vec![Value::String(
        String::from_utf8_lossy(bytes).into_owned(),
    )])
}

/// True when `bytes` hold one or more whole JSON objects or arrays and nothing else.
fn is_complete_json(bytes: &[u8]) -> bool {
    let trimmed = bytes.trim_ascii();
    if !matches!(trimmed.first(), Some(b'{') | Some(b'[')) {
        return false;
    }
    matches!(parse(trimmed), Parsed::Values(_))
}

/// What a segment holds.
#[derive(Debug)]
pub enum Parsed {
    Blank,
    /// Usually one value; real files sometimes have two objects on one line.
    Values(Vec<Value>),
    /// Not (entirely) JSON. `values` holds what parsed before the error.
    Invalid {
        values: Vec<Value>,
        error: String,
    },
}

pub fn parse(bytes: &[u8]) -> Parsed {
    let trimmed = bytes.trim_ascii();
    if trimmed.is_empty() {
        return Parsed::Blank;
    }
    let mut values = Vec::with_capacity(1);
    for item in serde_json::Deserializer::from_slice(trimmed).into_iter::<Value>() {
        match item {
            Ok(v) => values.push(v),
            Err(e) => {
                return Parsed::Invalid {
                    values,
                    error: e.to_string(),
                };
            }
        }
    }
    Parsed::Values(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits `buf`, whose last record is whole: all of it is used, and its
    /// segments put back together give it back byte for byte.
    fn split_whole(buf: &[u8], base_offset: u64, base_line: u64) -> Vec<Segment<'_>> {
        let (segs, used) = split(buf, base_offset, base_line);
        assert_eq!(used, buf.len());
        let joined: Vec<u8> = segs.iter().flat_map(|s| s.bytes.iter().copied()).collect();
        assert_eq!(joined, buf);
        segs
    }

    #[test]
    fn partial_last_line_is_left_for_later() {
        let buf = b"{\"a\":1}\n{\"b\":";
        let (segs, used) = split(buf, 0, 1);
        assert_eq!(segs.len(), 1);
        assert_eq!(used, 8);
    }

    #[test]
    fn complete_unterminated_line_is_a_record() {
        let segs = split_whole(b"{\"a\":1}\n{\"b\":2}", 10, 3);
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[1].offset, 18);
        assert_eq!(segs[1].line, 4);
        assert!(!segs[1].terminated());
    }

    #[test]
    fn blank_and_crlf_lines_are_kept_exactly() {
        let segs = split_whole(b"{\"a\":1}\r\n\n{\"b\":2}\n", 0, 1);
        assert_eq!(segs.len(), 3);
        assert!(matches!(parse(segs[1].bytes), Parsed::Blank));
    }

    #[test]
    fn two_objects_on_one_line_both_parse() {
        match parse(b"{\"a\":1}{\"b\":2}\n") {
            Parsed::Values(v) => assert_eq!(v.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn garbage_is_invalid_not_fatal() {
        assert!(matches!(parse(b"{not json\n"), Parsed::Invalid { .. }));
        // A bare scalar tail might still be growing: never taken unterminated.
        let (segs, used) = split(b"123", 0, 1);
        assert!(segs.is_empty() && used == 0);
    }
}
