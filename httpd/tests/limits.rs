//! The connection limits over real loopback TCP: each test opens raw
//! sockets against a [`Server`] and watches what the server does to them.
//!
//! Waits are generous upper bounds on behaviour (a connection *is* closed,
//! a response *does* come), never measurements.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use loupe_httpd::{ConnectionLimits, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Long enough for any loaded CI machine; a test that waits this long
/// has failed.
const PATIENCE: Duration = Duration::from_secs(20);

fn app() -> Router {
    Router::new()
        .route("/", get(|| async { "ok" }))
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "slow but done"
            }),
        )
        .route("/big", get(|| async { vec![b'x'; 64 << 20] }))
}

struct Running {
    addr: SocketAddr,
    server: Server,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

async fn start(limits: ConnectionLimits) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = Server::new(limits);
    let (stop, stopped) = oneshot::channel::<()>();
    let s = server.clone();
    let task = tokio::spawn(async move {
        s.serve(listener, app(), async move {
            let _ = stopped.await;
        })
        .await
    });
    Running {
        addr,
        server,
        stop,
        task,
    }
}

/// Reads until the server closes the connection (EOF or reset) and
/// returns what it sent; panics if it stays open for [`PATIENCE`].
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server kept the connection open");
    got
}

/// Reads one response head and returns its status line.
async fn status_line(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
            .await
            .expect("a response in time")
            .expect("read");
        assert!(n > 0, "closed before a response: {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

async fn wait_for(server: &Server, what: &str, ok: impl Fn(loupe_httpd::ConnectionStats) -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !ok(server.stats()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: {:?}",
            server.stats()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: loupe.test\r\n\r\n";

#[tokio::test]
async fn a_client_trickling_its_headers_is_cut_off() {
    let r = start(ConnectionLimits {
        header_read_timeout: Duration::from_millis(500),
        ..ConnectionLimits::default()
    })
    .await;
    let mut s = TcpStream::connect(r.addr).await.expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\nHost: loupe.test\r\n")
        .await
        .expect("write");
    // One header byte every 50 ms, for far longer than the timeout: each
    // byte is progress, but the head as a whole never finishes in time.
    let trickle = async {
        for b in b"X-Slow: ".iter().chain([b'a'; 400].iter()).cycle() {
            if s.write_all(&[*b]).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    };
    let cut = tokio::time::timeout(PATIENCE, trickle).await;
    assert_eq!(cut, Ok(true), "the trickling client was never cut off");
    wait_for(&r.server, "the slot is freed", |s| {
        s.open == 0 && s.errored == 1
    })
    .await;
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let r = start(ConnectionLimits {
        header_read_timeout: Duration::from_millis(300),
        ..ConnectionLimits::default()
    })
    .await;
    let mut s = TcpStream::connect(r.addr).await.expect("connect");
    s.write_all(GET).await.expect("write");
    assert_eq!(status_line(&mut s).await, "HTTP/1.1 200 OK");
    // The response was complete and the connection kept alive; sending
    // nothing more, the client must be let go.
    read_until_closed(&mut s).await;
    wait_for(&r.server, "the slot is freed", |s| s.open == 0).await;
}

#[tokio::test]
async fn at_the_connection_cap_new_connections_wait_for_a_free_slot() {
    let r = start(ConnectionLimits {
        max_connections: 2,
        ..ConnectionLimits::default()
    })
    .await;
    let silent_a = TcpStream::connect(r.addr).await.expect("connect");
    let _silent_b = TcpStream::connect(r.addr).await.expect("connect");
    wait_for(&r.server, "both silent connections held", |s| s.open == 2).await;

    // The kernel completes the handshake (backlog), but the server does
    // not take the connection while both slots are held.
    let mut third = TcpStream::connect(r.addr).await.expect("connect");
    third.write_all(GET).await.expect("write");
    let mut one = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut one)).await;
    assert!(early.is_err(), "answered over the cap: {early:?}");
    assert_eq!(r.server.stats().accepted, 2);

    drop(silent_a);
    assert_eq!(status_line(&mut third).await, "HTTP/1.1 200 OK");
    assert_eq!(r.server.stats().accepted, 3);
}

#[tokio::test]
async fn a_per_address_cap_closes_the_extra_connection() {
    let r = start(ConnectionLimits {
        max_connections_per_ip: 1,
        ..ConnectionLimits::default()
    })
    .await;
    let mut first = TcpStream::connect(r.addr).await.expect("connect");
    wait_for(&r.server, "first held", |s| s.open == 1).await;

    let mut second = TcpStream::connect(r.addr).await.expect("connect");
    let _ = second.write_all(GET).await; // may already be reset
    let said = read_until_closed(&mut second).await;
    assert!(said.is_empty(), "the extra connection was served: {said:?}");
    assert_eq!(r.server.stats().refused_per_ip, 1);

    // The first is still served, and once it is gone the address may
    // connect again.
    first.write_all(GET).await.expect("write");
    assert_eq!(status_line(&mut first).await, "HTTP/1.1 200 OK");
    drop(first);
    wait_for(&r.server, "first closed", |s| s.open == 0).await;
    let mut again = TcpStream::connect(r.addr).await.expect("connect");
    again.write_all(GET).await.expect("write");
    assert_eq!(status_line(&mut again).await, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped() {
    let r = start(ConnectionLimits {
        write_timeout: Duration::from_millis(500),
        ..ConnectionLimits::default()
    })
    .await;
    let mut s = TcpStream::connect(r.addr).await.expect("connect");
    s.write_all(b"GET /big HTTP/1.1\r\nHost: loupe.test\r\n\r\n")
        .await
        .expect("write");
    // 64 MiB does not fit in the socket buffers; the client reads
    // nothing, so the server's write stalls and must give up.
    wait_for(&r.server, "accepted", |s| s.accepted == 1).await;
    wait_for(&r.server, "the stalled connection is dropped", |s| {
        s.open == 0 && s.errored == 1
    })
    .await;
    drop(s);
}

#[tokio::test]
async fn an_oversized_head_is_refused_with_431() {
    let r = start(ConnectionLimits {
        max_header_bytes: 16 * 1024,
        ..ConnectionLimits::default()
    })
    .await;
    let mut s = TcpStream::connect(r.addr).await.expect("connect");
    let mut head = b"GET / HTTP/1.1\r\nHost: loupe.test\r\nX-Big: ".to_vec();
    head.extend(std::iter::repeat_n(b'a', 32 * 1024));
    head.extend_from_slice(b"\r\n\r\n");
    let _ = s.write_all(&head).await; // the server may stop reading early
    let said = read_until_closed(&mut s).await;
    let said = String::from_utf8_lossy(&said);
    assert!(
        said.starts_with("HTTP/1.1 431"),
        "expected 431, got {said:?}"
    );
}

#[tokio::test]
async fn handlers_see_the_peer_address() {
    let r = start(ConnectionLimits::default()).await;
    let mut s = TcpStream::connect(r.addr).await.expect("connect");
    let me = s.local_addr().expect("local addr");
    s.write_all(b"GET /peer HTTP/1.1\r\nHost: loupe.test\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let said = read_until_closed(&mut s).await;
    let said = String::from_utf8_lossy(&said);
    assert!(said.starts_with("HTTP/1.1 200"), "{said}");
    assert!(
        said.ends_with(&me.to_string()),
        "{said} does not end with {me}"
    );
}

#[tokio::test]
async fn shutdown_finishes_the_request_in_flight_then_returns() {
    let r = start(ConnectionLimits::default()).await;
    let mut s = TcpStream::connect(r.addr).await.expect("connect");
    s.write_all(b"GET /slow HTTP/1.1\r\nHost: loupe.test\r\n\r\n")
        .await
        .expect("write");
    wait_for(&r.server, "accepted", |s| s.accepted == 1).await;
    tokio::time::sleep(Duration::from_millis(50)).await; // the request is in the handler
    r.stop.send(()).expect("server running");
    let said = read_until_closed(&mut s).await;
    let said = String::from_utf8_lossy(&said);
    assert!(said.starts_with("HTTP/1.1 200"), "{said}");
    assert!(said.ends_with("slow but done"), "{said}");
    let ended = tokio::time::timeout(PATIENCE, r.task).await;
    assert!(
        matches!(ended, Ok(Ok(Ok(())))),
        "serve did not return: {ended:?}"
    );
    assert!(
        TcpStream::connect(r.addr).await.is_err(),
        "still listening after shutdown"
    );
}
