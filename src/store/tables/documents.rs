//! Whole-document sources stored as patches, so a session file that its
//! client rewrites in full at every change costs about its final size plus
//! what changed, not one full copy per rewrite.
//!
//! A new generation of such a file is stored as a zstd frame compressed
//! with the previous generation as its reference prefix (zstd's "patch
//! from"): what the two share costs a few bytes of back-reference. A
//! generation is stored whole instead when its patch would not be much
//! smaller than the document, when the previous generation is not in the
//! store, and every `MAX_CHAIN`-th link, so reading any generation applies
//! at most `MAX_CHAIN` patches. A patched record keeps the length and
//! SHA-256 of the bytes it stands for, and reading checks both: a patch
//! applied to anything but its base fails loudly, never returns other bytes.
//!
//! The caller says which records are whole documents; what a generation is
//! and how records of a file relate is the raw table's own model, so nothing
//! here knows any client.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::sync::Arc;

use arrow_schema::Schema;
use lancedb::table::NewColumnTransform;

use crate::digest::sha256_hex;
use crate::model::RawRecord;
use crate::store::tables::schema::{self, PATCH_BASE, Patch, StoredRaw};
use crate::store::{Store, StoreError, TableKind, lance_error, sql_str};

/// Longest run of patches between two whole copies: bounds what reading
/// one generation costs (measured in docs/benchmarks.md).
const MAX_CHAIN: u32 = 16;
/// A patch is kept only at an eighth of the document or less: the column's
/// own zstd already shrinks a whole JSON document four to six times, so a
/// larger patch saves little and lengthens the chain.
const PATCH_AT_MOST: usize = 8;
const LEVEL: i32 = 3;
/// zstd can reference back at most 2^30 bytes with the decoder limits set
/// here; a larger document is stored whole.
const MAX_WINDOW_LOG: u32 = 30;

type Key = (String, u32);

fn key(r: &RawRecord) -> Key {
    (r.file_id.clone(), r.generation)
}

/// The smallest window that reaches from the end of `new` back to the
/// start of `base`.
fn window_log(span: usize) -> Option<u32> {
    let log = usize::BITS - span.max(1).leading_zeros();
    (log <= MAX_WINDOW_LOG).then_some(log.max(10))
}

/// `new` compressed against `base`, or `None` when zstd cannot reach across
/// both (documents over half a gigabyte).
pub fn encode(base: &[u8], new: &[u8]) -> Option<Vec<u8>> {
    let window = window_log(base.len() + new.len())?;
    let mut encoder =
        zstd::stream::write::Encoder::with_ref_prefix(Vec::new(), LEVEL, base).ok()?;
    encoder.window_log(window).ok()?;
    // Long-distance matching finds the shared bytes of a document that grew
    // by megabytes as readily as those of a small one.
    encoder.long_distance_matching(true).ok()?;
    encoder.write_all(new).ok()?;
    encoder.finish().ok()
}

/// The bytes `patch` stands for, given the `base` it was made against.
pub fn decode(base: &[u8], patch: &[u8], length: u64) -> std::io::Result<Vec<u8>> {
    let mut decoder = zstd::stream::read::Decoder::with_ref_prefix(patch, base)?;
    decoder.window_log_max(MAX_WINDOW_LOG)?;
    let mut out = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
    decoder
        .take(length.saturating_add(1))
        .read_to_end(&mut out)?;
    Ok(out)
}

/// Generations of files read so far (only their first record: a document
/// generation is one record), and the bytes resolved from them.
#[derive(Default)]
struct Generations {
    stored: HashMap<Key, StoredRaw>,
    resolved: HashMap<Key, Vec<u8>>,
    /// Looked for and not in the store.
    absent: HashSet<Key>,
}

impl Generations {
    fn add(&mut self, row: StoredRaw) {
        if row.record.offset == 0 {
            self.stored.insert(key(&row.record), row);
        }
    }

    /// Bases some known patch needs that have not been looked for yet.
    fn missing(&self, wanted: &[Key]) -> Vec<Key> {
        let mut missing: Vec<Key> = wanted
            .iter()
            .cloned()
            .chain(
                self.stored
                    .values()
                    .filter_map(|r| r.patch_base.map(|base| (r.record.file_id.clone(), base))),
            )
            .filter(|k| !self.stored.contains_key(k) && !self.absent.contains(k))
            .collect();
        missing.sort();
        missing.dedup();
        missing
    }

    /// The keys from `key` down to the first whole copy, or `None` when a
    /// link is not in the store.
    /// With `to_resolved`, the chain stops early at bytes already resolved.
    fn chain(&self, key: &Key, to_resolved: bool) -> Result<Option<Vec<Key>>, StoreError> {
        let mut chain = vec![key.clone()];
        let mut at = key.clone();
        loop {
            if to_resolved && self.resolved.contains_key(&at) {
                return Ok(Some(chain));
            }
            let Some(row) = self.stored.get(&at) else {
                return Ok(None);
            };
            let Some(base) = row.patch_base else {
                return Ok(Some(chain));
            };
            // Patches only ever point back, so a chain always ends.
            if base >= at.1 {
                return Err(damaged(&row.record, base, "is not an earlier generation"));
            }
            at = (at.0, base);
            chain.push(at.clone());
        }
    }

    /// Patches applied since the last whole copy, for `key`.
    fn depth(&self, key: &Key) -> Result<Option<u32>, StoreError> {
        Ok(self.chain(key, false)?.map(|c| {
            let patched = c
                .iter()
                .filter(|k| self.stored.get(*k).is_some_and(|r| r.patch_base.is_some()))
                .count();
            u32::try_from(patched).unwrap_or(u32::MAX)
        }))
    }

    /// The bytes of generation `key`, applying its chain from the nearest
    /// whole copy up, each step checked against the length and SHA-256 the
    /// record carries.
    fn bytes(&mut self, key: &Key) -> Result<&[u8], StoreError> {
        let Some(chain) = self.chain(key, true)? else {
            let row = self.stored.get(key);
            return Err(StoreError::Damaged(match row {
                Some(r) => format!(
                    "raw record {} is a patch whose base generations are not all in the store",
                    r.record.id
                ),
                None => format!("generation {} of file {} is not in the store", key.1, key.0),
            }));
        };
        for link in chain.iter().rev() {
            if self.resolved.contains_key(link) {
                continue;
            }
            let Some(row) = self.stored.get(link) else {
                continue;
            };
            let bytes = match row.patch_base {
                None => row.record.bytes.clone(),
                Some(base) => {
                    let base_bytes = self
                        .resolved
                        .get(&(link.0.clone(), base))
                        .ok_or_else(|| damaged(&row.record, base, "was not resolved first"))?;
                    let out = decode(base_bytes, &row.record.bytes, row.record.length)
                        .map_err(|e| damaged(&row.record, base, &format!("does not apply: {e}")))?;
                    // Rule 43: each patch step must give its record's length and SHA-256,
                    // else it is an error, never other bytes.
                    if out.len() as u64 != row.record.length
                        || sha256_hex(&out) != row.record.sha256
                    {
                        return Err(damaged(
                            &row.record,
                            base,
                            "gives bytes other than the record's length and SHA-256",
                        ));
                    }
                    out
                }
            };
            self.resolved.insert(link.clone(), bytes);
        }
        self.resolved.get(key).map(Vec::as_slice).ok_or_else(|| {
            StoreError::Damaged(format!("generation {} of {} unresolved", key.1, key.0))
        })
    }
}

fn damaged(record: &RawRecord, base: u32, what: &str) -> StoreError {
    StoreError::Damaged(format!(
        "raw record {}: its patch against generation {base} {what}",
        record.id
    ))
}

/// Bases fetched per query: keeps the SQL of one read short.
const FETCH_CHUNK: usize = 64;

impl Store {
    /// The raw records matching `filter`, each with its own bytes: patched
    /// records are resolved against their bases, read as needed.
    pub async fn raw_records(&self, filter: &str) -> Result<Vec<RawRecord>, StoreError> {
        let mut rows = Vec::new();
        for b in self.scan(TableKind::Raw, Some(filter), None).await? {
            rows.extend(schema::stored_raw_from_batch(&b)?);
        }
        if rows.iter().all(|r| r.patch_base.is_none()) {
            return Ok(rows.into_iter().map(|r| r.record).collect());
        }
        let mut generations = Generations::default();
        for row in &rows {
            generations.add(row.clone());
        }
        self.fetch_bases(&mut generations, &[]).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut record = row.record;
            if row.patch_base.is_some() {
                record.bytes = generations.bytes(&key(&record))?.to_vec();
            }
            out.push(record);
        }
        Ok(out)
    }

    /// Patches for `documents` (records that are each the whole of a new
    /// generation of their file) against the generation before, where the
    /// store holds it and a patch pays. Records left out are stored whole.
    pub async fn document_patches(
        &self,
        documents: &[&RawRecord],
    ) -> Result<HashMap<String, Patch>, StoreError> {
        let candidates: Vec<&RawRecord> = documents
            .iter()
            .copied()
            .filter(|r| r.generation > 0 && r.offset == 0)
            .collect();
        let mut patches = HashMap::new();
        if candidates.is_empty() {
            return Ok(patches);
        }
        let bases: Vec<Key> = candidates
            .iter()
            .map(|r| (r.file_id.clone(), r.generation - 1))
            .collect();
        let mut generations = Generations::default();
        self.fetch_bases(&mut generations, &bases).await?;
        // Rule 43: a generation is a patch on the one before only if that is stored,
        // the chain stays short and the patch is at most an eighth of the document.
        for (record, base) in candidates.into_iter().zip(bases) {
            match generations.depth(&base) {
                Ok(Some(depth)) if depth + 1 < MAX_CHAIN => {}
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(record = %record.id, error = %e, "storing a document whole: its previous generation does not resolve");
                    continue;
                }
            }
            let base_bytes = match generations.bytes(&base) {
                Ok(bytes) => bytes,
                Err(e) => {
                    tracing::warn!(record = %record.id, error = %e, "storing a document whole: its previous generation does not resolve");
                    continue;
                }
            };
            if let Some(patch) = encode(base_bytes, &record.bytes)
                .filter(|p| p.len().saturating_mul(PATCH_AT_MOST) <= record.bytes.len())
            {
                patches.insert(
                    record.id.clone(),
                    Patch {
                        base_generation: base.1,
                        bytes: patch,
                    },
                );
            }
        }
        Ok(patches)
    }

    /// Reads the generations `wanted` and every base their patches need,
    /// until nothing is missing or what is missing is not in the store.
    async fn fetch_bases(
        &self,
        generations: &mut Generations,
        wanted: &[Key],
    ) -> Result<(), StoreError> {
        // The first read takes each wanted generation with the chain a
        // patch of it can have, so a sync resolves its base in one scan;
        // later reads fetch only what is still missing.
        let mut reach = MAX_CHAIN;
        loop {
            let missing = generations.missing(wanted);
            if missing.is_empty() {
                return Ok(());
            }
            for chunk in missing.chunks(FETCH_CHUNK) {
                let filter = chunk
                    .iter()
                    .map(|(file, generation)| {
                        format!(
                            "(file_id = {} AND generation >= {} AND generation <= {generation})",
                            sql_str(file),
                            generation.saturating_sub(reach)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" OR ");
                for b in self.scan(TableKind::Raw, Some(&filter), None).await? {
                    for row in schema::stored_raw_from_batch(&b)? {
                        generations.add(row);
                    }
                }
                for k in chunk {
                    if !generations.stored.contains_key(k) {
                        generations.absent.insert(k.clone());
                    }
                }
            }
            reach = 0;
        }
    }

    /// Gives a raw table made before patches existed its `patch_base`
    /// column, all nulls (a commit of metadata only). The format is stamped
    /// first, so a binary that would take a patch for a document's bytes
    /// refuses the store from its next open on.
    pub(crate) async fn ensure_patch_column(&self) -> Result<(), StoreError> {
        let Ok(table) = self.table_to_write(TableKind::Raw).await else {
            return Ok(());
        };
        let has_column = |schema: &Schema| schema.field_with_name(PATCH_BASE).is_ok();
        let current = table
            .schema()
            .await
            .map_err(|e| lance_error(&self.location, "read the raw table's schema", e))?;
        if has_column(&current) {
            return Ok(());
        }
        // Rule 43: format stamped before `patch_base` exists, so a binary that
        // would export a patch as the document refuses the store.
        self.stamp_current_format().await?;
        let added = table
            .add_columns()
            .transform(NewColumnTransform::AllNulls(Arc::new(Schema::new(vec![
                schema::patch_base_field(),
            ]))))
            .execute()
            .await;
        if let Err(e) = added {
            // Another host may have added it first.
            table
                .checkout_latest()
                .await
                .map_err(|e| lance_error(&self.location, "reopen the raw table", e))?;
            let now = table
                .schema()
                .await
                .map_err(|e| lance_error(&self.location, "read the raw table's schema", e))?;
            if !has_column(&now) {
                return Err(lance_error(&self.location, "add the patch_base column", e));
            }
        }
        tracing::info!("raw table upgraded: whole documents may now be stored as patches");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(messages: usize) -> Vec<u8> {
        let mut doc = String::from("{\n  \"sessionId\": \"s1\",\n  \"lastUpdated\": \"");
        doc.push_str(&format!("2026-12-02T10:{:02}:00Z", messages % 60));
        doc.push_str("\",\n  \"messages\": [\n");
        for i in 0..messages {
            doc.push_str(&format!(
                "    {{\"id\": \"m{i}\", \"type\": \"user\", \"content\": \"message {i}: {}\"}},\n",
                "the quick brown fox jumps over the lazy dog ".repeat(i % 7 + 1)
            ));
        }
        doc.push_str("  ]\n}\n");
        doc.into_bytes()
    }

    #[test]
    fn a_patch_restores_the_exact_bytes_and_is_small_for_a_grown_document() {
        let base = document(200);
        let grown = document(203);
        let patch = encode(&base, &grown).expect("encodes");
        assert!(
            patch.len() * PATCH_AT_MOST <= grown.len(),
            "patch of {} bytes for a document of {}",
            patch.len(),
            grown.len()
        );
        let back = decode(&base, &patch, grown.len() as u64).expect("decodes");
        assert_eq!(back, grown);
    }

    #[test]
    fn a_patch_against_other_bytes_does_not_give_the_document() {
        let base = document(50);
        let grown = document(51);
        let patch = encode(&base, &grown).expect("encodes");
        let other = document(49);
        let back = decode(&other, &patch, grown.len() as u64);
        assert!(back.is_err() || back.is_ok_and(|b| b != grown));
    }

    #[test]
    fn empty_documents_and_empty_bases_round_trip() {
        for (base, new) in [
            (&b""[..], &b"{}"[..]),
            (&b"{}"[..], &b""[..]),
            (&b""[..], &b""[..]),
        ] {
            let patch = encode(base, new).expect("encodes");
            assert_eq!(
                decode(base, &patch, new.len() as u64).expect("decodes"),
                new
            );
        }
    }

    fn stored(generation: u32, patch_base: Option<u32>, bytes: Vec<u8>, of: &[u8]) -> StoredRaw {
        StoredRaw {
            record: RawRecord {
                id: format!("f:{generation}:0"),
                file_id: "f".into(),
                host: "h".into(),
                client: "c".into(),
                root: "/r".into(),
                rel_path: "s.json".into(),
                session_id: "c:s".into(),
                generation,
                offset: 0,
                length: of.len() as u64,
                line: 1,
                sha256: sha256_hex(of),
                status: crate::model::RecordStatus::Parsed,
                bytes,
            },
            patch_base,
        }
    }

    #[test]
    fn a_chain_of_patches_resolves_every_generation_and_counts_its_depth() {
        let docs: Vec<Vec<u8>> = (0..5).map(|g| document(100 + g * 3)).collect();
        let mut generations = Generations::default();
        generations.add(stored(0, None, docs[0].clone(), &docs[0]));
        for g in 1..5 {
            let patch = encode(&docs[g - 1], &docs[g]).expect("encodes");
            generations.add(stored(g as u32, Some(g as u32 - 1), patch, &docs[g]));
        }
        let last = ("f".to_string(), 4);
        assert_eq!(generations.depth(&last).expect("resolves"), Some(4));
        for (g, doc) in docs.iter().enumerate().rev() {
            let k = ("f".to_string(), g as u32);
            assert_eq!(generations.bytes(&k).expect("resolves"), doc.as_slice());
        }
    }

    #[test]
    fn a_patch_whose_base_is_missing_or_wrong_is_reported_not_returned() {
        let (a, b) = (document(10), document(11));
        let mut missing = Generations::default();
        missing.add(stored(1, Some(0), encode(&a, &b).expect("encodes"), &b));
        let k = ("f".to_string(), 1);
        assert!(matches!(missing.bytes(&k), Err(StoreError::Damaged(_))));

        let mut wrong = Generations::default();
        let other = document(9);
        wrong.add(stored(0, None, other.clone(), &other));
        wrong.add(stored(1, Some(0), encode(&a, &b).expect("encodes"), &b));
        assert!(matches!(wrong.bytes(&k), Err(StoreError::Damaged(_))));

        let mut cycle = Generations::default();
        cycle.add(stored(1, Some(1), b.clone(), &b));
        assert!(matches!(cycle.bytes(&k), Err(StoreError::Damaged(_))));
    }
}
