//! A deliberately dumb HTTP/1.1 client for hostile-input tests: it sends
//! the request bytes exactly as given (raw paths such as `/%2e%2e/`, which
//! URL libraries normalise away; non-UTF-8 headers; lying lengths) and
//! reads the whole answer of a `Connection: close` exchange.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// An answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Headers, names lowercased.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl Answer {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }
}

/// A request under construction.
#[derive(Debug, Clone)]
pub struct Raw {
    /// `GET`, `POST`…
    pub method: &'static str,
    /// The request target, sent verbatim.
    pub target: Vec<u8>,
    /// Header lines (name, value bytes), sent verbatim.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body; `Content-Length` is added unless a header sets it.
    pub body: Vec<u8>,
}

impl Raw {
    /// A request with no headers and no body.
    pub fn new(method: &'static str, target: impl Into<Vec<u8>>) -> Self {
        Self {
            method,
            target: target.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The bytes on the wire.
    pub fn to_bytes(&self, host: &str) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(&self.target);
        out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        out.extend_from_slice(host.as_bytes());
        out.extend_from_slice(b"\r\nConnection: close\r\n");
        let mut has_length = false;
        for (n, v) in &self.headers {
            has_length |= n.eq_ignore_ascii_case("content-length")
                || n.eq_ignore_ascii_case("transfer-encoding");
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v);
            out.extend_from_slice(b"\r\n");
        }
        if !has_length {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    /// Sends the request to `addr` and reads the answer (at most 30 s).
    pub async fn send(&self, addr: SocketAddr) -> Answer {
        tokio::time::timeout(Duration::from_secs(30), self.exchange(addr))
            .await
            .expect("the server answers within 30 s")
    }

    async fn exchange(&self, addr: SocketAddr) -> Answer {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let bytes = self.to_bytes(&addr.to_string());
        // The server may answer (413, 401…) and close before reading it all.
        let _ = stream.write_all(&bytes).await;
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw).await;
        parse(&raw).unwrap_or_else(|| {
            panic!(
                "no HTTP answer to {:?}: {:?}",
                String::from_utf8_lossy(&self.target),
                String::from_utf8_lossy(&raw)
            )
        })
    }
}

/// Parses one HTTP/1.1 response.
pub fn parse(raw: &[u8]) -> Option<Answer> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(raw.get(..end)?).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, Vec<u8>)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().as_bytes().to_vec()))
        .collect();
    let rest = raw.get(end + 4..)?;
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case(b"chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    Some(Answer {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n")?;
        let size =
            usize::from_str_radix(std::str::from_utf8(rest.get(..eol)?).ok()?.trim(), 16).ok()?;
        rest = rest.get(eol + 2..)?;
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}
