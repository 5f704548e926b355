//! Rule 10: adapters never touch the store, and the store knows no client.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every `.rs` file below `dir`, at any depth (a client with several
/// formats has a folder of its own).
fn sources(dir: &str) -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push((
                    p.display().to_string(),
                    std::fs::read_to_string(&p).unwrap(),
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join(dir), &mut out);
    out
}

/// The code that ships: an adapter's unit tests may run it through the
/// pipeline's pure translation (`crate::sync::translate`), which is how they
/// check what a sync would store.
fn shipped(text: &str) -> &str {
    text.split("#[cfg(test)]").next().unwrap_or(text)
}

#[test]
fn rule10_adapters_do_not_import_the_store() {
    for (file, text) in sources("crates/pond-adapters/src") {
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

/// The top-level modules of `src/` each module's code (not its comments)
/// names as `crate::<module>`.
fn module_imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, text) in sources("src") {
        let rel = Path::new(&file).strip_prefix(&src).unwrap();
        let module = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        let code: String = text
            .lines()
            .map(|l| l.split("//").next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n");
        let uses = graph.entry(module.clone()).or_default();
        for (at, _) in code.match_indices("crate::") {
            let name: String = code[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() && name != module {
                uses.insert(name);
            }
        }
    }
    graph
}

#[test]
fn rule10_no_two_modules_import_each_other_even_through_others() {
    assert_no_circle(module_imports(), "store");
}

/// A source file's module path below `src/`: `serve/ingest.rs` is
/// `serve::ingest`, `serve/mod.rs` is `serve`, `lib.rs` the crate root "".
fn module_path(rel: &Path) -> String {
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let file = parts.pop().unwrap_or_default();
    let stem = file.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts.join("::")
}

/// The first segment of each path a `{…}` group starting at `text` lists
/// (`{a, b::c, d::{e}}` gives a, b, d), and plain `name` otherwise.
fn heads(text: &str) -> Vec<String> {
    let ident = |t: &str| -> String {
        t.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let Some(inner) = text.strip_prefix('{') else {
        return vec![ident(text)];
    };
    let mut depth = 0;
    let mut names = Vec::new();
    let mut start = 0;
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                names.push(ident(&inner[start..i]));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                names.push(ident(&inner[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    names.into_iter().filter(|n| !n.is_empty()).collect()
}

/// Every module of `src/` (at any depth) and the modules its code (not its
/// comments) names through `crate::`, `super::` or `self::`, resolved to the
/// deepest module the path reaches.
fn deep_imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files: Vec<(String, String)> = sources("src")
        .into_iter()
        .map(|(file, text)| {
            let rel = Path::new(&file).strip_prefix(&src).unwrap().to_path_buf();
            (module_path(&rel), text)
        })
        .collect();
    let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    let deepest = |mut path: Vec<String>| -> Option<String> {
        while !path.is_empty() {
            let joined = path.join("::");
            if modules.contains(&joined) {
                return Some(joined);
            }
            path.pop();
        }
        None
    };
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in &files {
        let code: String = text
            .lines()
            .map(|l| l.split("//").next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n");
        // `self` is the module itself and `super` its parent, whether the
        // module is a file or a folder's `mod.rs`.
        let here: Vec<String> = module
            .split("::")
            .filter(|p| !p.is_empty())
            .map(String::from)
            .collect();
        let up = here[..here.len().saturating_sub(1)].to_vec();
        let uses = graph.entry(module.clone()).or_default();
        for (prefix, base) in [("crate::", Vec::new()), ("super::", up), ("self::", here)] {
            for (at, _) in code.match_indices(prefix) {
                // `crate::a::b` and `super::super::x` alike: the path's words.
                let rest = &code[at + prefix.len()..];
                let preceded = code[..at]
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
                if preceded {
                    continue;
                }
                let words: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                let mut path = base.clone();
                let mut segments: Vec<&str> = words.split("::").filter(|w| !w.is_empty()).collect();
                while segments.first() == Some(&"super") {
                    path.pop();
                    segments.remove(0);
                }
                let tail = &rest[words.len()..];
                if tail.starts_with('{') {
                    for head in heads(tail) {
                        let mut full = path.clone();
                        full.extend(segments.iter().map(|s| s.to_string()));
                        full.push(head);
                        uses.extend(deepest(full));
                    }
                } else {
                    path.extend(segments.iter().map(|s| s.to_string()));
                    uses.extend(deepest(path));
                }
            }
        }
        uses.remove(module);
    }
    graph
}

/// Whether one of two modules holds the other (a folder and what is in it
/// are one room: its `mod.rs` is the door).
fn nested(a: &str, b: &str) -> bool {
    a.is_empty()
        || b.is_empty()
        || a.starts_with(&format!("{b}::"))
        || b.starts_with(&format!("{a}::"))
}

/// The first circle found in `graph`, ignoring arrows between a module and
/// what it holds.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    for start in graph.keys() {
        let mut stack: Vec<Vec<&str>> = vec![vec![start.as_str()]];
        let mut seen = BTreeSet::new();
        while let Some(path) = stack.pop() {
            let last = *path.last().unwrap();
            for next in graph.get(last).into_iter().flatten() {
                if nested(last, next) {
                    continue;
                }
                if next == start {
                    let mut found: Vec<String> = path.iter().map(|s| s.to_string()).collect();
                    found.push(next.clone());
                    return Some(found);
                }
                if seen.insert(next.as_str()) {
                    let mut longer = path.clone();
                    longer.push(next);
                    stack.push(longer);
                }
            }
        }
    }
    None
}

#[test]
fn rule10_no_circle_of_imports_at_any_depth() {
    assert_no_circle(deep_imports(), "serve::ingest");
}

/// Fails on an import circle in `graph`, naming every one, not just the
/// first; `known` must be among its modules, so that a graph read from no
/// sources cannot pass.
fn assert_no_circle(mut graph: BTreeMap<String, BTreeSet<String>>, known: &str) {
    assert!(
        graph.contains_key(known),
        "the modules were not read: no {known}"
    );
    let mut circles = Vec::new();
    // Every circle, one at a time: report all, not just the first.
    while let Some(found) = circle(&graph) {
        circles.push(found.join(" -> "));
        let (from, to) = (&found[found.len() - 2], &found[found.len() - 1]);
        let (from, to) = (from.clone(), to.clone());
        graph.get_mut(&from).map(|s| s.remove(&to));
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

/// The web page's ES modules and the modules each imports.
#[test]
fn rule10_the_pages_modules_form_no_circle() {
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/serve/web/assets");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in std::fs::read_dir(&assets).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "js") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let uses = graph.entry(name).or_default();
        for (at, _) in text.match_indices("from \"./") {
            let rest = &text[at + "from \"./".len()..];
            if let Some(end) = rest.find('"') {
                uses.insert(rest[..end].to_string());
            }
        }
        for (at, _) in text.match_indices("import(\"./") {
            let rest = &text[at + "import(\"./".len()..];
            if let Some(end) = rest.find('"') {
                uses.insert(rest[..end].to_string());
            }
        }
    }
    assert!(graph.len() >= 3, "the page's modules were read");
    assert_eq!(circle(&graph), None);
}
