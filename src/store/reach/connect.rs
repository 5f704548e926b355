//! Reaching a store's objects directly: the one constructor of an
//! `ObjectStore` for a store URL. Lance opens its own; pond needs one for
//! what it keeps beside the tables (leases, intents, records, the storage
//! check), and every such use goes through here.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

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
        "s3" => {
            let mut b = object_store::aws::AmazonS3Builder::from_env().with_url(location.uri());
            for (k, v) in options {
                if let Ok(key) = object_store::aws::AmazonS3ConfigKey::from_str(k) {
                    b = b.with_config(key, v);
                }
            }
            Arc::new(
                b.with_retry(quick_retry())
                    .build()
                    .map_err(|e| e.to_string())?,
            )
        }
        "gs" => {
            let mut b =
                object_store::gcp::GoogleCloudStorageBuilder::from_env().with_url(location.uri());
            for (k, v) in options {
                if let Ok(key) = object_store::gcp::GoogleConfigKey::from_str(k) {
                    b = b.with_config(key, v);
                }
            }
            Arc::new(
                b.with_retry(quick_retry())
                    .build()
                    .map_err(|e| e.to_string())?,
            )
        }
        "az" | "abfs" | "abfss" => {
            let mut b =
                object_store::azure::MicrosoftAzureBuilder::from_env().with_url(location.uri());
            for (k, v) in options {
                if let Ok(key) = object_store::azure::AzureConfigKey::from_str(k) {
                    b = b.with_config(key, v);
                }
            }
            Arc::new(
                b.with_retry(quick_retry())
                    .build()
                    .map_err(|e| e.to_string())?,
            )
        }
        other => return Err(format!("no object store for `{other}://` stores")),
    };
    Ok((store, prefix))
}
