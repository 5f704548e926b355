//! Reaching a store's objects directly: the one constructor of an
//! `ObjectStore` for a store URL. Lance opens its own; pond needs one for
//! what it keeps beside the tables (leases, intents, records, the storage
//! check), and every such use goes through here.

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

/// A cloud store from its builder, the user's options its kind of store
/// knows by name applied first (the rest are Lance's alone). The three
/// builders share their method names but no trait, so a macro writes the
/// sequence once.
macro_rules! cloud {
    ($builder:ty, $key:ty, $location:expr, $options:expr) => {{
        let mut builder = <$builder>::from_env().with_url($location.uri());
        for (k, v) in $options {
            if let Ok(key) = <$key as FromStr>::from_str(k) {
                builder = builder.with_config(key, v);
            }
        }
        let store = builder
            .with_retry(quick_retry())
            .build()
            .map_err(|e| e.to_string())?;
        Arc::new(store) as Arc<dyn ObjectStore>
    }};
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
        "s3" => cloud!(AmazonS3Builder, AmazonS3ConfigKey, location, options),
        "gs" => cloud!(
            GoogleCloudStorageBuilder,
            GoogleConfigKey,
            location,
            options
        ),
        "az" | "abfs" | "abfss" => cloud!(MicrosoftAzureBuilder, AzureConfigKey, location, options),
        other => return Err(format!("no object store for `{other}://` stores")),
    };
    Ok((store, prefix))
}
