//! The HTTP/1.1 connection loop both Loupe services run on.
//!
//! `axum::serve` is deliberately simple: it sets no header-read timeout (a
//! client that sends its request line one byte a minute holds a connection
//! for ever), has no cap on open connections (each one costs a task, two
//! buffers and a file descriptor) and no write timeout (a client that stops
//! reading a large response parks its connection). This crate is the same
//! accept loop on `hyper-util` with those limits:
//!
//! | limit | default | what it stops |
//! | --- | --- | --- |
//! | [`ConnectionLimits::max_connections`] | 4096 | file-descriptor and memory exhaustion; past it the loop stops accepting and connections wait in the kernel's backlog |
//! | [`ConnectionLimits::max_connections_per_ip`] | off | one address taking every slot; connections over it are closed at once (leave it off behind a load balancer, where every client has its address) |
//! | [`ConnectionLimits::header_read_timeout`] | 30 s | slow-header (Slowloris) clients: the request line and headers must arrive within it, counted from the first byte read or from the end of the previous response; it is therefore also the keep-alive idle timeout |
//! | [`ConnectionLimits::write_timeout`] | 60 s | a client that stops reading: a write that makes no progress for this long closes the connection |
//! | [`ConnectionLimits::max_header_bytes`] | 64 KiB | oversized request heads (answered 431) |
//!
//! Request bodies and handler time are the services' own business (their
//! body limits and request timeouts are tower layers).
//!
//! Only HTTP/1.1 is served: browsers speak HTTP/2 only over TLS, which a
//! deployment terminates in front of the service, and HTTP/1.1 keeps the
//! per-connection limits simple to reason about.
//!
//! Every request carries the peer's address as
//! [`axum::extract::ConnectInfo<SocketAddr>`], as with
//! `into_make_service_with_connect_info`.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_io_timeout::TimeoutStream;
use tower::ServiceExt as _;

/// Default [`ConnectionLimits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Default [`ConnectionLimits::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`ConnectionLimits::write_timeout`].
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default [`ConnectionLimits::max_header_bytes`].
pub const DEFAULT_MAX_HEADER_BYTES: usize = 64 * 1024;
/// The smallest `max_header_bytes` hyper accepts.
pub const MIN_HEADER_BYTES: usize = 8192;

/// The per-connection limits of a [`Server`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once; at the cap the server stops accepting
    /// until one closes. At least 1.
    pub max_connections: usize,
    /// Connections open at once from one IP address; 0 means no such cap.
    /// A connection over it is closed as soon as it is accepted.
    pub max_connections_per_ip: usize,
    /// Time allowed for a request's line and headers (and, on a kept-alive
    /// connection, for the next request to begin and complete its head).
    pub header_read_timeout: Duration,
    /// Time a response write may make no progress before the connection
    /// is closed.
    pub write_timeout: Duration,
    /// Largest request head (line and headers) read, in bytes; at least
    /// [`MIN_HEADER_BYTES`]. A larger head is answered 431.
    pub max_header_bytes: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_ip: 0,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
        }
    }
}

/// Counters of a [`Server`], for the services' `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnectionStats {
    /// Connections open now.
    pub open: usize,
    /// Connections accepted since the server was made.
    pub accepted: u64,
    /// Connections closed at once because their address was over
    /// [`ConnectionLimits::max_connections_per_ip`].
    pub refused_per_ip: u64,
    /// Connections that ended with an error: a header-read or write
    /// timeout, a malformed or oversized request head, a reset.
    pub errored: u64,
}

/// An HTTP/1.1 server with [`ConnectionLimits`]. Cheap to clone: clones
/// share the connection slots and counters (keep one in a service's state
/// to report [`Server::stats`]).
#[derive(Debug, Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    limits: ConnectionLimits,
    slots: Arc<Semaphore>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    open: AtomicUsize,
    accepted: AtomicU64,
    refused_per_ip: AtomicU64,
    errored: AtomicU64,
}

impl Server {
    /// A server with `limits`; a `max_connections` of 0 counts as 1 and a
    /// `max_header_bytes` below [`MIN_HEADER_BYTES`] as that minimum.
    #[must_use]
    pub fn new(mut limits: ConnectionLimits) -> Self {
        limits.max_connections = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
        limits.max_header_bytes = limits.max_header_bytes.max(MIN_HEADER_BYTES);
        Self {
            inner: Arc::new(Inner {
                slots: Arc::new(Semaphore::new(limits.max_connections)),
                limits,
                per_ip: Mutex::new(HashMap::new()),
                open: AtomicUsize::new(0),
                accepted: AtomicU64::new(0),
                refused_per_ip: AtomicU64::new(0),
                errored: AtomicU64::new(0),
            }),
        }
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> &ConnectionLimits {
        &self.inner.limits
    }

    /// The current counters.
    #[must_use]
    pub fn stats(&self) -> ConnectionStats {
        let i = &self.inner;
        ConnectionStats {
            open: i.open.load(Ordering::Relaxed),
            accepted: i.accepted.load(Ordering::Relaxed),
            refused_per_ip: i.refused_per_ip.load(Ordering::Relaxed),
            errored: i.errored.load(Ordering::Relaxed),
        }
    }

    /// Serves `router` on `listener` until `shutdown` completes, then
    /// stops accepting, lets the requests in flight finish (idle
    /// connections are closed at once) and returns when every connection
    /// has closed.
    ///
    /// # Errors
    /// None today: accept errors (a full file table, a connection reset
    /// before it was accepted) are logged and retried, as a server must.
    /// The `io::Result` leaves room for a listener that can fail for good.
    pub async fn serve(
        &self,
        listener: TcpListener,
        router: Router,
        shutdown: impl Future<Output = ()> + Send,
    ) -> io::Result<()> {
        let graceful = GracefulShutdown::new();
        let mut shutdown = pin!(shutdown);
        loop {
            let slot = tokio::select! {
                slot = self.inner.slots.clone().acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break, // never closed; stop rather than spin
                },
                () = &mut shutdown => break,
            };
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        accept_error(&e).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            self.inner.accepted.fetch_add(1, Ordering::Relaxed);
            let Some(ip_slot) = self.admit(peer.ip()) else {
                self.inner.refused_per_ip.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, "connection refused: too many from this address");
                continue; // dropping the stream closes it
            };
            self.spawn_connection(&graceful, stream, peer, router.clone(), slot, ip_slot);
        }
        drop(listener);
        graceful.shutdown().await;
        Ok(())
    }

    fn spawn_connection(
        &self,
        graceful: &GracefulShutdown,
        stream: tokio::net::TcpStream,
        peer: SocketAddr,
        router: Router,
        slot: OwnedSemaphorePermit,
        ip_slot: IpSlot,
    ) {
        let limits = &self.inner.limits;
        // Responses go out in one write; don't let Nagle hold their tail
        // back waiting for the client's delayed ACK.
        let _ = stream.set_nodelay(true);
        let mut stream = TimeoutStream::new(stream);
        stream.set_write_timeout(Some(limits.write_timeout));
        let io = TokioIo::new(Box::pin(stream));
        let service =
            TowerToHyperService::new(router.map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            }));
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_buf_size(limits.max_header_bytes)
            .serve_connection(io, service);
        let connection = graceful.watch(connection);
        let server = self.clone();
        server.inner.open.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                server.inner.errored.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(ip_slot);
            server.inner.open.fetch_sub(1, Ordering::Relaxed);
            drop(slot);
        });
    }

    /// Counts a connection from `ip`, or `None` when `ip` is at its cap.
    fn admit(&self, ip: IpAddr) -> Option<IpSlot> {
        let cap = self.inner.limits.max_connections_per_ip;
        if cap == 0 {
            return Some(IpSlot { server: None, ip });
        }
        let mut per_ip = self.inner.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let n = per_ip.entry(ip).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            server: Some(self.clone()),
            ip,
        })
    }
}

/// One connection's place in the per-address count; released on drop.
struct IpSlot {
    server: Option<Server>,
    ip: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let Some(server) = &self.server else { return };
        let mut per_ip = server
            .inner
            .per_ip
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

/// An `accept` error: a connection that died in the backlog is nothing;
/// anything else (most often `EMFILE`, the file table full) is logged and
/// the loop pauses briefly so it doesn't spin while nothing can be
/// accepted.
async fn accept_error(e: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset, Interrupted};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset | Interrupted
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed; retrying in 50 ms");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

impl ConnectionStats {
    /// Appends the counters to `out` in the Prometheus text format, as
    /// `{prefix}_http_connections_open` (gauge) and
    /// `{prefix}_http_connections_{accepted,refused_per_ip,errored}_total`
    /// (the issuer's prefix is `loupe`, the verifier's `loupe_verifier`).
    pub fn write_prometheus(&self, out: &mut String, prefix: &str) {
        use std::fmt::Write as _;
        let rows: [(&str, &str, &str, u64); 4] = [
            (
                "http_connections_open",
                "gauge",
                "HTTP connections open now.",
                self.open as u64,
            ),
            (
                "http_connections_accepted_total",
                "counter",
                "HTTP connections accepted.",
                self.accepted,
            ),
            (
                "http_connections_refused_per_ip_total",
                "counter",
                "HTTP connections closed at once: their address was at max_connections_per_ip.",
                self.refused_per_ip,
            ),
            (
                "http_connections_errored_total",
                "counter",
                "HTTP connections ended by a timeout, a malformed or oversized head, or a reset.",
                self.errored,
            ),
        ];
        for (name, kind, help, value) in rows {
            let _ = writeln!(out, "# HELP {prefix}_{name} {help}");
            let _ = writeln!(out, "# TYPE {prefix}_{name} {kind}");
            let _ = writeln!(out, "{prefix}_{name} {value}");
        }
    }
}
