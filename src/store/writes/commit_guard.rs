//! The last check before a commit lands: its write intent must still stand.
//!
//! A sweep spares the files of a write in flight only while the write's
//! intent is in the store (`store::writes::intents`, rule 50). A writer that stops
//! between putting its files and committing the manifest that names them (a
//! laptop suspended for a week, a process stopped) can find its intent
//! expired and its files swept; committing then would name files that are
//! gone, and every later read of the table would fail. Lance commits by
//! writing the manifest through the object store, so every object store
//! this handle's tables reach is wrapped: a manifest goes in only after the
//! handle's intents for the writes in flight are confirmed. A refused
//! commit surfaces as a store error that the write's retry handles, and
//! the next attempt writes its files again under a fresh intent.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use lance::io::{ObjectStoreParams, ObjectStoreRegistry};
use lance_io::object_store::ObjectStoreProvider;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};
use url::Url;

use crate::store::writes::intents::WriteIntents;

/// The schemes pond opens stores with; each gets the guard.
const GUARDED_SCHEMES: &[&str] = &["file", "file-object-store", "s3", "gs", "az", "abfss"];

/// A registry whose object stores check `intents` before a manifest lands.
pub(in crate::store) fn registry(intents: Arc<WriteIntents>) -> Arc<ObjectStoreRegistry> {
    let registry = ObjectStoreRegistry::default();
    for scheme in GUARDED_SCHEMES {
        if let Some(inner) = registry.get_provider(scheme) {
            registry.insert(
                scheme,
                Arc::new(GuardedProvider {
                    inner,
                    intents: intents.clone(),
                }),
            );
        }
    }
    Arc::new(registry)
}

#[derive(Debug)]
struct GuardedProvider {
    inner: Arc<dyn ObjectStoreProvider>,
    intents: Arc<WriteIntents>,
}

#[async_trait::async_trait]
impl ObjectStoreProvider for GuardedProvider {
    async fn new_store(
        &self,
        base_path: Url,
        params: &ObjectStoreParams,
    ) -> lance::Result<lance::io::ObjectStore> {
        let mut store = self.inner.new_store(base_path, params).await?;
        store.inner = Arc::new(Guarded {
            inner: store.inner.clone(),
            intents: self.intents.clone(),
        });
        Ok(store)
    }

    fn extract_path(&self, url: &Url) -> lance::Result<Path> {
        self.inner.extract_path(url)
    }

    fn calculate_object_store_prefix(
        &self,
        url: &Url,
        storage_options: Option<&HashMap<String, String>>,
    ) -> lance::Result<String> {
        self.inner
            .calculate_object_store_prefix(url, storage_options)
    }
}

#[derive(Debug)]
struct Guarded {
    inner: Arc<dyn ObjectStore>,
    intents: Arc<WriteIntents>,
}

impl fmt::Display for Guarded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.inner)
    }
}

/// A table version's manifest: the object whose arrival is the commit.
fn is_manifest(path: &Path) -> bool {
    path.as_ref().ends_with(".manifest") && path.parts().any(|part| part.as_ref() == "_versions")
}

/// The table a manifest commits: the folder `<table>.lance` it sits under.
fn table_of(manifest: &Path) -> String {
    manifest
        .parts()
        .filter_map(|part| part.as_ref().strip_suffix(".lance").map(str::to_owned))
        .next_back()
        .unwrap_or_default()
}

impl Guarded {
    async fn may_commit(&self, path: &Path) -> object_store::Result<()> {
        if !is_manifest(path) {
            return Ok(());
        }
        self.intents
            .check_before_commit(&table_of(path))
            .await
            .map_err(|lost| object_store::Error::Generic {
                store: "pond write intents",
                source: Box::new(lost),
            })
    }
}

#[async_trait::async_trait]
impl ObjectStore for Guarded {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.may_commit(location).await?;
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.may_commit(to).await?;
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.may_commit(to).await?;
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::{is_manifest, table_of};
    use object_store::path::Path;

    #[test]
    fn only_a_version_manifest_is_a_commit() {
        assert!(is_manifest(&Path::from(
            "s/messages.lance/_versions/18446744073709551614.manifest"
        )));
        assert!(!is_manifest(&Path::from("s/messages.lance/data/x.lance")));
        assert!(!is_manifest(&Path::from("s/_pond/writes/intent-1")));
        assert!(!is_manifest(&Path::from(
            "s/messages.lance/_transactions/1-x.txn"
        )));
    }

    #[test]
    fn a_manifest_names_its_table() {
        let manifest = Path::from("bucket/team.lance/messages.lance/_versions/7.manifest");
        assert_eq!(table_of(&manifest), "messages");
        assert_eq!(table_of(&Path::from("loose/_versions/1.manifest")), "");
    }
}
