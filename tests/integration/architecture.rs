//! Rule 10: adapters never touch the store, and the store knows no client.

use std::path::Path;

fn sources(dir: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

/// The code that ships: an adapter's unit tests may run it through the
/// pipeline's pure translation (`crate::sync::translate`), which is how they
/// check what a sync would store.
fn shipped(text: &str) -> &str {
    text.split("#[cfg(test)]").next().unwrap_or(text)
}

#[test]
fn rule10_adapters_do_not_import_the_store() {
    for (file, text) in sources("crates/pond-adapters/src/adapters") {
        let text = shipped(&text);
        for forbidden in ["crate::store", "lancedb", "crate::sync"] {
            assert!(!text.contains(forbidden), "{file} uses {forbidden}");
        }
    }
}

#[test]
fn rule10_store_knows_no_client() {
    for (file, text) in sources("src/store") {
        for forbidden in ["adapters", "claude", "codex"] {
            assert!(
                !text.to_lowercase().contains(forbidden),
                "{file} mentions {forbidden}"
            );
        }
    }
}
