//! Accepting connections with limits a hostile client cannot hold open.
//!
//! `axum::serve` gives hyper no timer, so hyper's header-read timeout never
//! runs: a client that sends a request line and then one header byte a
//! minute holds a connection (and its task) for ever. Connections are
//! served here instead, by hyper directly, with a timer and a deadline for
//! the request head and for every body but an upload's (which has its own
//! stall limit).
//!
//! A deadline alone does not keep a server up: callers without any token
//! can open connections faster than deadlines close them, until the
//! process runs out of file descriptors and even `/healthz` goes
//! unanswered. So connections are counted, in all and per peer address,
//! below the open-file limit; at a limit the oldest connection that is not
//! doing work for anyone (waiting for a request, or still receiving one) is
//! closed to make room. A caller that sends its request at once is served
//! in milliseconds, long before it could become the oldest.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body as AxumBody;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// How long a client has to send a request's line and headers.
pub const HEAD_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client has to send a request's body, once its head arrived
/// (uploads excepted: they are large, and stopped when they stall).
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head accepted.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The route whose bodies are uploads.
const UPLOAD_PATH: &str = "/v1/ingest";

/// Serves `app` on `listener` until `shutdown` completes, then lets open
/// requests finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let limits = ConnectionLimits::from_open_file_limit();
    tracing::info!(
        connections = limits.in_all,
        per_peer = limits.per_peer,
        "connection limits"
    );
    let open = Arc::new(OpenConnections::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(conn) => conn,
            // Out of descriptors or a connection reset before accept: the
            // listener itself is fine, so keep serving.
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(conn) = open.admit(peer.ip(), &limits) else {
            // Every connection is busy serving someone: this one waits its
            // turn nowhere, it is closed at once.
            tracing::debug!(%peer, "connection refused: every connection is busy");
            continue;
        };
        let service = Tracked {
            inner: TowerToHyperService::new(app.clone()),
            conn: conn.clone(),
        };
        let mut stop = stop_rx.clone();
        let open = open.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_READ_TIMEOUT)
                .max_buf_size(MAX_HEAD_BYTES);
            let served = builder
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            let mut served = std::pin::pin!(served);
            tokio::select! {
                result = served.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended");
                    }
                }
                () = conn.evicted.notified() => {
                    tracing::debug!(peer = %conn.peer, "connection closed to make room");
                }
                _ = stop.changed() => {
                    served.as_mut().graceful_shutdown();
                    if let Err(e) = served.await {
                        tracing::debug!(error = %e, "connection ended during shutdown");
                    }
                }
            }
            open.forget(conn.id);
        });
    }
    // Connections hold receivers: wait until every one has finished.
    drop(stop_rx);
    let _ = stop_tx.send(true);
    stop_tx.closed().await;
    Ok(())
}

/// How many connections may be open, in all and from one peer address.
#[derive(Debug, Clone, Copy)]
struct ConnectionLimits {
    in_all: usize,
    per_peer: usize,
}

impl ConnectionLimits {
    /// Below the process's open-file limit (raised to its hard limit first),
    /// leaving a quarter, and at least 64, for the store's files.
    fn from_open_file_limit() -> ConnectionLimits {
        let files = raise_open_file_limit().unwrap_or(1024);
        let reserve = (files / 4).max(64);
        let in_all = files.saturating_sub(reserve).clamp(16, 16_384);
        ConnectionLimits {
            in_all,
            per_peer: (in_all * 3 / 4).max(8),
        }
    }
}

/// Raises the soft open-file limit to the hard one; the soft limit after.
fn raise_open_file_limit() -> Option<usize> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit only read and write the struct given.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return None;
            }
            if limit.rlim_cur < limit.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: limit.rlim_max,
                    rlim_max: limit.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    limit = raised;
                }
            }
        }
        Some(usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX))
    }
    #[cfg(not(unix))]
    None
}

/// What a connection is doing, for choosing one to close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Phase {
    /// Waiting for a request (a new or kept-alive connection).
    Waiting = 0,
    /// A request's head arrived; its body is still coming.
    Receiving = 1,
    /// The whole request arrived and is being answered.
    Working = 2,
}

/// One open connection.
struct Conn {
    id: u64,
    peer: IpAddr,
    phase: AtomicU8,
    /// When the connection entered its phase, in ms since `epoch`.
    since_ms: AtomicU64,
    epoch: Instant,
    /// Told when the connection is closed to make room.
    evicted: tokio::sync::Notify,
}

impl Conn {
    fn enter(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::SeqCst);
        let now = self.epoch.elapsed().as_millis();
        self.since_ms
            .store(u64::try_from(now).unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    /// Whether closing it would cut off work done for a caller.
    fn idle(&self) -> bool {
        self.phase.load(Ordering::SeqCst) != Phase::Working as u8
    }
}

/// The connections open now.
struct OpenConnections {
    epoch: Instant,
    next_id: AtomicU64,
    by_id: Mutex<HashMap<u64, Arc<Conn>>>,
}

impl Default for OpenConnections {
    fn default() -> Self {
        OpenConnections {
            epoch: Instant::now(),
            next_id: AtomicU64::new(0),
            by_id: Mutex::new(HashMap::new()),
        }
    }
}

impl OpenConnections {
    /// Room for a connection from `peer`, made by closing the oldest idle
    /// connection (of that peer, when the peer is at its limit); `None`
    /// when every connection that would have to go is working.
    fn admit(&self, peer: IpAddr, limits: &ConnectionLimits) -> Option<Arc<Conn>> {
        let mut by_id = match self.by_id.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        let of_peer = by_id.values().filter(|c| c.peer == peer).count();
        let peer_full = of_peer >= limits.per_peer;
        if peer_full || by_id.len() >= limits.in_all {
            let victim = by_id
                .values()
                .filter(|c| c.idle() && (!peer_full || c.peer == peer))
                .min_by_key(|c| c.since_ms.load(Ordering::SeqCst))
                .map(|c| c.id)?;
            if let Some(conn) = by_id.remove(&victim) {
                conn.evicted.notify_one();
            }
        }
        let conn = Arc::new(Conn {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            peer,
            phase: AtomicU8::new(Phase::Waiting as u8),
            since_ms: AtomicU64::new(0),
            epoch: self.epoch,
            evicted: tokio::sync::Notify::new(),
        });
        conn.enter(Phase::Waiting);
        by_id.insert(conn.id, conn.clone());
        Some(conn)
    }

    fn forget(&self, id: u64) {
        let mut by_id = match self.by_id.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        by_id.remove(&id);
    }
}

/// The app, telling its connection what phase each request is in and
/// putting a deadline on request bodies.
struct Tracked {
    inner: TowerToHyperService<Router>,
    conn: Arc<Conn>,
}

type Answer = axum::http::Response<AxumBody>;

impl hyper::service::Service<axum::http::Request<Incoming>> for Tracked {
    type Response = Answer;
    type Error = Infallible;
    type Future = Pin<Box<dyn std::future::Future<Output = Result<Answer, Infallible>> + Send>>;

    fn call(&self, request: axum::http::Request<Incoming>) -> Self::Future {
        let whole = request.body().is_end_stream();
        self.conn.enter(if whole {
            Phase::Working
        } else {
            Phase::Receiving
        });
        let deadline = (request.uri().path() != UPLOAD_PATH)
            .then(|| Box::pin(tokio::time::sleep(BODY_READ_TIMEOUT)));
        let conn = self.conn.clone();
        let request = request.map(|body| {
            AxumBody::new(TimedBody {
                inner: body,
                deadline,
                conn: conn.clone(),
            })
        });
        let answer = hyper::service::Service::call(&self.inner, request);
        Box::pin(async move {
            let answer = answer.await;
            conn.enter(Phase::Waiting);
            answer
        })
    }
}

/// A request body that fails once its deadline passes, and marks its
/// connection as working once it has all arrived.
struct TimedBody {
    inner: Incoming,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    conn: Arc<Conn>,
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                self.conn.enter(Phase::Working);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Ok(frame))) => {
                if self.inner.is_end_stream() {
                    self.conn.enter(Phase::Working);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Pending => {
                let late = self
                    .deadline
                    .as_mut()
                    .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready());
                if late {
                    Poll::Ready(Some(Err(format!(
                        "the request body did not arrive within {}s",
                        BODY_READ_TIMEOUT.as_secs()
                    )
                    .into())))
                } else {
                    Poll::Pending
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(in_all: usize, per_peer: usize) -> ConnectionLimits {
        ConnectionLimits { in_all, per_peer }
    }

    #[test]
    fn at_the_limit_the_oldest_idle_connection_makes_room() {
        let open = OpenConnections::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let first = open.admit(a, &limits(2, 2)).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let second = open.admit(a, &limits(2, 2)).unwrap();
        // The older one is working for someone: the younger idle one goes.
        first.enter(Phase::Working);
        let third = open.admit(a, &limits(2, 2)).unwrap();
        let ids: Vec<u64> = open.by_id.lock().unwrap().keys().copied().collect();
        assert!(ids.contains(&first.id) && ids.contains(&third.id));
        assert!(!ids.contains(&second.id));
        // Nobody idle: no room.
        third.enter(Phase::Working);
        assert!(open.admit(a, &limits(2, 2)).is_none());
    }

    #[test]
    fn a_peer_at_its_limit_gives_up_its_own_connections_only() {
        let open = OpenConnections::default();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let other = open.admit(b, &limits(10, 2)).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let a1 = open.admit(a, &limits(10, 2)).unwrap();
        // Apart by more than the clock's millisecond, so "oldest" is one.
        std::thread::sleep(Duration::from_millis(5));
        let _a2 = open.admit(a, &limits(10, 2)).unwrap();
        let _a3 = open.admit(a, &limits(10, 2)).unwrap();
        let ids: Vec<u64> = open.by_id.lock().unwrap().keys().copied().collect();
        assert!(
            ids.contains(&other.id),
            "another peer's connection was closed"
        );
        assert!(!ids.contains(&a1.id));
    }
}
