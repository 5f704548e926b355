//! The images a raw record carries inline, for showing them beside the
//! message they belong to. Messages keep only an image's name (a `File`
//! part such as `[image: image/png]`); the bytes stay in the raw record,
//! where losslessness keeps them anyway, and are decoded from there on
//! demand. One reader serves every client that embeds images as base64 in
//! JSON, whatever its shape.

use base64::Engine;
use serde_json::Value;

/// Media types served back to a browser. Anything else (SVG above all,
/// which can carry script) is never returned as an image.
pub const SHOWN_MEDIA_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// One decoded image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub media_type: String,
    pub bytes: Vec<u8>,
}

impl Image {
    /// The image as a `data:` URI, for a page that must carry its images
    /// inside it; `None` for a type a browser is never handed
    /// ([`SHOWN_MEDIA_TYPES`]).
    pub fn data_uri(&self) -> Option<String> {
        SHOWN_MEDIA_TYPES
            .contains(&self.media_type.as_str())
            .then(|| {
                format!(
                    "data:{};base64,{}",
                    self.media_type,
                    base64::engine::general_purpose::STANDARD.encode(&self.bytes)
                )
            })
    }
}

/// The images `record` (one JSON record as its client wrote it) holds
/// inline, in the order they appear, each in one of the shapes clients
/// write:
/// - Anthropic's `{"type": "image", "source": {"type": "base64",
///   "media_type", "data"}}` (Claude Code, Cursor and Amp transcripts);
/// - OpenAI's `{"type": "input_image", "image_url": "data:…;base64,…"}`
///   (Codex CLI);
/// - MCP's `{"type": "image", "data", "mimeType"}` (pi).
///
/// Images inside tool results are skipped: the adapters fold those into the
/// result's text, so the n-th image here is the n-th image part of the
/// message. Records that are not JSON, images of other media types and
/// undecodable data yield nothing.
pub fn images_in_record(record: &[u8]) -> Vec<Image> {
    let Ok(value) = serde_json::from_slice::<Value>(record) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    collect(&value, &mut found);
    found
}

fn collect(value: &Value, found: &mut Vec<Image>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| collect(v, found)),
        Value::Object(map) => {
            let kind = map.get("type").and_then(Value::as_str);
            if kind == Some("tool_result") {
                return;
            }
            if let Some(image) = inline_image(map, kind) {
                found.push(image);
                return;
            }
            map.values().for_each(|v| collect(v, found));
        }
        _ => {}
    }
}

fn str_of(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str)
}

fn inline_image(map: &serde_json::Map<String, Value>, kind: Option<&str>) -> Option<Image> {
    let (media_type, data) = match kind? {
        "image" => match map.get("source") {
            Some(source) if str_of(source.get("type")) == Some("base64") => (
                str_of(source.get("media_type"))?,
                str_of(source.get("data"))?,
            ),
            _ => (str_of(map.get("mimeType"))?, str_of(map.get("data"))?),
        },
        "input_image" => {
            let url = str_of(map.get("image_url"))?;
            let (head, data) = url.strip_prefix("data:")?.split_once(',')?;
            (head.strip_suffix(";base64")?, data)
        }
        _ => return None,
    };
    let media_type = media_type.to_ascii_lowercase();
    if !SHOWN_MEDIA_TYPES.contains(&media_type.as_str()) {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .ok()?;
    Some(Image { media_type, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG_B64: &str = "iVBORw0KGgo=";

    #[test]
    fn each_shape_is_read_in_order_and_tool_results_are_skipped() {
        let record = serde_json::json!({
            "message": {"content": [
                {"type": "text", "text": "look"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
                {"type": "tool_result", "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}}
                ]},
                {"type": "input_image", "image_url": format!("data:image/jpeg;base64,{PNG_B64}")},
                {"type": "image", "data": PNG_B64, "mimeType": "image/webp"}
            ]}
        });
        let found = images_in_record(record.to_string().as_bytes());
        let types: Vec<&str> = found.iter().map(|i| i.media_type.as_str()).collect();
        assert_eq!(types, ["image/png", "image/jpeg", "image/webp"]);
        assert_eq!(found[0].bytes, b"\x89PNG\r\n\x1a\n");
    }

    #[test]
    fn svg_bad_data_and_non_json_yield_nothing() {
        let svg = serde_json::json!({"type": "image", "source": {"type": "base64", "media_type": "image/svg+xml", "data": PNG_B64}});
        assert!(images_in_record(svg.to_string().as_bytes()).is_empty());
        let bad = serde_json::json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "%%%"}});
        assert!(images_in_record(bad.to_string().as_bytes()).is_empty());
        let url =
            serde_json::json!({"type": "input_image", "image_url": "https://example.com/a.png"});
        assert!(images_in_record(url.to_string().as_bytes()).is_empty());
        assert!(images_in_record(b"not json").is_empty());
    }
}
