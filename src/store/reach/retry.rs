//! Retrying whole store writes when optimistic concurrency loses a race.
//!
//! Lance commits by conditional put and rebases on conflict by itself, but
//! under heavy contention it gives up ("Too many concurrent writers"). Every
//! pond write is an insert-if-absent or an upsert on deterministic keys, so
//! running the whole write again is always safe: a retry after an attempt whose
//! commit did land finds the rows present and inserts nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

/// Bounds on retrying one write. A sync against an unreachable store must end
/// in bounded time with an error, not hang.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    pub max_total_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(8),
            max_total_delay: Duration::from_secs(45),
        }
    }
}

/// Runs `write` until it succeeds, fails in a way retrying cannot fix, or the
/// policy is exhausted; counts each retry in `retries`.
pub async fn with_retry<T, F, Fut>(
    policy: RetryPolicy,
    retries: &AtomicU64,
    what: &str,
    write: F,
) -> lancedb::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = lancedb::Result<T>>,
{
    // Rule 11: a lost commit race reruns the whole keyed write, with jittered
    // exponential backoff bounded in attempts and total time.
    let backoff = ExponentialBuilder::default()
        .with_min_delay(policy.min_delay)
        .with_max_delay(policy.max_delay)
        .with_max_times(policy.max_attempts.saturating_sub(1))
        .with_total_delay(Some(policy.max_total_delay))
        .with_jitter();
    write
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(is_retryable)
        .notify(|e, delay| {
            retries.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(what, ?delay, error = %e, "store write failed; retrying");
        })
        .await
}

/// Commit races and transient I/O are worth another attempt; bad input,
/// missing tables and refused credentials are not.
pub fn is_retryable(e: &lancedb::Error) -> bool {
    if refused_or_missing(e) {
        return false;
    }
    match e {
        lancedb::Error::Lance { source } => matches!(
            source,
            lance::Error::TooMuchWriteContention { .. }
                | lance::Error::CommitConflict { .. }
                | lance::Error::RetryableCommitConflict { .. }
                | lance::Error::IO { .. }
        ),
        lancedb::Error::ObjectStore { .. } => true,
        lancedb::Error::Runtime { message } => message.contains("timed out"),
        _ => false,
    }
}

/// Whether an object-store error in the chain says the request can never work.
fn refused_or_missing(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(os) = err.downcast_ref::<object_store::Error>() {
            return matches!(
                os,
                object_store::Error::PermissionDenied { .. }
                    | object_store::Error::Unauthenticated { .. }
                    | object_store::Error::NotFound { .. }
                    | object_store::Error::NotSupported { .. }
                    | object_store::Error::InvalidPath { .. }
            );
        }
        current = err.source();
    }
    false
}
