//! The entry point of the fuzz targets in `fuzz/`: arbitrary bytes through
//! an adapter, as every layout the pipeline could hand it, so a crash found
//! here is a crash a damaged or hostile session file could cause in a sync.

use std::path::PathBuf;

use crate::adapter::{Layout, SourceFile};
use crate::registry;
use crate::translate::translate_bytes;

/// Feeds `data` to the adapter named `adapter` as a JSON-lines file, a
/// document, a text log and a database, and translates what it reads.
/// Errors are expected; a panic is the finding.
pub fn run(adapter: &str, data: &[u8]) {
    let Some(adapter) = registry::by_name(adapter) else {
        return;
    };
    for layout in [Layout::Jsonl, Layout::Document, Layout::Text] {
        let file = source(layout, PathBuf::from("/nonexistent/fuzz/input"));
        let _ = translate_bytes(adapter.as_ref(), &file, data);
    }
    // Databases and archives are read from a file; only inputs that claim
    // to be one are worth the write.
    if data.starts_with(b"SQLite format 3\0") || data.starts_with(b"PK") {
        let path = std::env::temp_dir().join(format!("pond-fuzz-{}.db", std::process::id()));
        if std::fs::write(&path, data).is_ok() {
            let file = source(Layout::Database, path.clone());
            if let Ok(records) = adapter.read_records(&file) {
                let mut bytes = Vec::new();
                for r in records {
                    bytes.extend_from_slice(&r);
                    bytes.push(b'\n');
                }
                let _ = translate_bytes(adapter.as_ref(), &file, &bytes);
            }
            let _ = std::fs::remove_file(&path);
        }
    }
}

fn source(layout: Layout, path: PathBuf) -> SourceFile {
    SourceFile::new(path, "fuzz/input", layout)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_adapter_survives_a_few_hostile_inputs() {
        let inputs: [&[u8]; 5] = [
            b"",
            b"{\"type\":\"user\"}\n{\"type\":",
            &[0xff, 0xfe, 0x00, b'\n', b'{'],
            b"SQLite format 3\0garbage",
            b"# aider chat started at 2026-01-01 00:00:00\n#### hi\n",
        ];
        for name in crate::registry::names() {
            for data in inputs {
                super::run(name, data);
            }
        }
    }
}
