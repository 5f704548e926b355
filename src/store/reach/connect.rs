//! Reaching a store's objects directly: the one constructor of an
//! `ObjectStore` for a store URL. Lance opens its own; pond needs one for
//! what it keeps beside the tables (leases, intents, records, the storage
//! check), and every such use goes through here.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, RetryConfig};

use crate::store::StoreLocation;

/// A bounded retry so a dead endpoint answers in seconds.
fn quick_retry() -> RetryConfig {
    RetryConfig {
        max_retries: 2,
        retry_timeout: Duration::from_secs(10),
        ..RetryConfig::default()
    }
}

/// Builds an object store for the location, reading the standard `AWS_*`,
/// `GOOGLE_*` and `AZURE_*` variables like Lance does, then the user's options.
pub fn object_store(
    location: &StoreLocation,
) -> Result<(Arc<dyn ObjectStore>, ObjectPath), String> {
    if let Some(dir) = &location.local_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| e.to_string())?;
        return Ok((Arc::new(store), ObjectPath::default()));
    }
    let url = url::Url::parse(location.uri()).map_err(|e| e.to_string())?;
    let prefix = ObjectPath::from(url.path().trim_matches('/'));
    let options = location.user_options();
    let store: Arc<dyn ObjectStore> = match location.scheme() {
        "memory" => Arc::new(object_store::memory::InMemory::new()),
        "s3" => cloud(
            AmazonS3Builder::from_env().with_url(location.uri()),
            options,
            |b, key: AmazonS3ConfigKey, v| b.with_config(key, v),
            |b| b.with_retry(quick_retry()).build(),
        )?,
        "gs" => cloud(
            GoogleCloudStorageBuilder::from_env().with_url(location.uri()),
            options,
            |b, key: GoogleConfigKey, v| b.with_config(key, v),
            |b| b.with_retry(quick_retry()).build(),
        )?,
        "az" | "abfs" | "abfss" => cloud(
            MicrosoftAzureBuilder::from_env().with_url(location.uri()),
            options,
            |b, key: AzureConfigKey, v| b.with_config(key, v),
            |b| b.with_retry(quick_retry()).build(),
        )?,
        other => return Err(format!("no object store for `{other}://` stores")),
    };
    Ok((store, prefix))
}

/// A cloud store from its builder, the user's options its kind of store
/// knows by name applied first (the rest are Lance's alone): the builders
/// share no trait, so each cloud passes how it sets a key and builds.
fn cloud<B, K: FromStr, S: ObjectStore>(
    mut builder: B,
    options: &BTreeMap<String, String>,
    set: impl Fn(B, K, &String) -> B,
    build: impl FnOnce(B) -> object_store::Result<S>,
) -> Result<Arc<dyn ObjectStore>, String> {
    for (k, v) in options {
        if let Ok(key) = K::from_str(k) {
            builder = set(builder, key, v);
        }
    }
    Ok(Arc::new(build(builder).map_err(|e| e.to_string())?))
}
