use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncReadExt as _, ReadBuf};

use super::*;

fn temps(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("list")
        .filter_map(|e| {
            let name = e.expect("entry").file_name().to_string_lossy().into_owned();
            name.starts_with(TEMP_PREFIX).then_some(name)
        })
        .collect()
}

/// Every regular file under `dir`, as paths relative to it.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for shard in std::fs::read_dir(dir).expect("list") {
        let shard = shard.expect("entry");
        if shard.file_type().expect("type").is_dir() {
            for f in std::fs::read_dir(shard.path()).expect("list") {
                let f = f.expect("entry");
                out.push(format!(
                    "{}/{}",
                    shard.file_name().to_string_lossy(),
                    f.file_name().to_string_lossy()
                ));
            }
        } else {
            out.push(shard.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    out
}

fn data(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

#[tokio::test]
async fn put_reader_stores_by_digest_and_reads_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = MediaStore::open(dir.path()).await.expect("open");
    // Empty, one byte, just over the buffer, several buffers.
    for len in [0, 1, BUF_SIZE + 1, 3 * BUF_SIZE + 17] {
        let bytes = data(len, 1);
        let stored = store.put_reader(&bytes[..], 1 << 24).await.expect("put");
        assert_eq!(stored.sha256, Sha256Digest::of(&bytes));
        assert_eq!(stored.size, len as u64);
        let hex = stored.sha256.to_string();
        assert_eq!(
            store.path_for(&stored.sha256),
            dir.path().join(&hex[..2]).join(&hex)
        );
        assert!(store.contains(&stored.sha256).await.expect("contains"));
        let mut f = store.get(&stored.sha256).await.expect("get").expect("some");
        assert_eq!(f.size, len as u64);
        let mut back = Vec::new();
        f.file.read_to_end(&mut back).await.expect("read");
        assert_eq!(back, bytes);
    }
    assert!(temps(dir.path()).is_empty());
}

#[tokio::test]
async fn missing_media_is_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = MediaStore::open(dir.path().join("nested/media"))
        .await
        .expect("open creates the directory");
    let d = Sha256Digest::of(b"never stored");
    assert!(!store.contains(&d).await.expect("contains"));
    assert!(store.get(&d).await.expect("get").is_none());
}

#[tokio::test]
async fn put_stream_stores_chunks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = MediaStore::open(dir.path()).await.expect("open");
    let bytes = data(200_000, 2);
    let chunks: Vec<Result<Vec<u8>, io::Error>> =
        bytes.chunks(7_919).map(|c| Ok(c.to_vec())).collect();
    let stored = store
        .put_stream(futures::stream::iter(chunks), 200_000)
        .await
        .expect("put");
    assert_eq!(stored.sha256, Sha256Digest::of(&bytes));
    assert_eq!(stored.size, 200_000);
}

#[tokio::test]
async fn size_limit_is_inclusive_and_refusal_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = MediaStore::open(dir.path()).await.expect("open");
    let bytes = data(100_000, 3);
    let exact = store
        .put_reader(&bytes[..], 100_000)
        .await
        .expect("at the limit");
    assert_eq!(exact.size, 100_000);

    let over = data(100_001, 4);
    let err = store
        .put_reader(&over[..], 100_000)
        .await
        .expect_err("over");
    assert!(
        matches!(err, MediaError::TooLarge { max: 100_000 }),
        "{err}"
    );
    let err = store
        .put_stream(
            futures::stream::iter(over.chunks(1000).map(Ok::<_, io::Error>)),
            100_000,
        )
        .await
        .expect_err("over");
    assert!(matches!(err, MediaError::TooLarge { .. }));
    assert!(
        !store
            .contains(&Sha256Digest::of(&over))
            .await
            .expect("contains")
    );
    assert!(temps(dir.path()).is_empty());
    assert_eq!(files(dir.path()).len(), 1, "only the file at the limit");

    let problem = ApiError::from(err).to_problem();
    assert_eq!((problem.status, problem.limit), (413, Some(100_000)));
}

/// Yields `first`, then fails.
struct Failing {
    first: Option<Vec<u8>>,
}

impl AsyncRead for Failing {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.first.take() {
            Some(b) => {
                buf.put_slice(&b);
                Poll::Ready(Ok(()))
            }
            None => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "client went away",
            ))),
        }
    }
}

/// Yields `first`, then never finishes.
struct Stalled {
    first: Option<Vec<u8>>,
}

impl AsyncRead for Stalled {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.first.take() {
            Some(b) => {
                buf.put_slice(&b);
                Poll::Ready(Ok(()))
            }
            None => Poll::Pending,
        }
    }
}

#[tokio::test]
async fn failed_and_cancelled_uploads_leave_no_temp_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = MediaStore::open(dir.path()).await.expect("open");

    let err = store
        .put_reader(
            Failing {
                first: Some(data(5000, 5)),
            },
            1 << 20,
        )
        .await
        .expect_err("fails");
    assert!(matches!(err, MediaError::Read(_)), "{err}");
    let p = ApiError::from(err).to_problem();
    assert_eq!(p.status, 400);

    let err = store
        .put_stream(
            futures::stream::iter(vec![Ok(vec![1u8; 10]), Err(io::Error::other("boom"))]),
            1 << 20,
        )
        .await
        .expect_err("fails");
    assert!(matches!(err, MediaError::Read(_)));

    // Dropped mid-upload (the client disconnected; axum drops the future).
    let put = store.put_reader(
        Stalled {
            first: Some(data(5000, 6)),
        },
        1 << 20,
    );
    let r = tokio::time::timeout(Duration::from_millis(100), put).await;
    assert!(r.is_err(), "timed out");
    assert!(temps(dir.path()).is_empty(), "{:?}", temps(dir.path()));
    assert!(files(dir.path()).is_empty());
}

#[tokio::test]
async fn concurrent_identical_puts_agree_on_one_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = MediaStore::open(dir.path()).await.expect("open");
    let bytes = std::sync::Arc::new(data(300_000, 7));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, bytes) = (store.clone(), bytes.clone());
            tokio::spawn(async move {
                // Small chunks so the uploads interleave.
                let chunks: Vec<Result<Vec<u8>, io::Error>> =
                    bytes.chunks(4096).map(|c| Ok(c.to_vec())).collect();
                store
                    .put_stream(futures::stream::iter(chunks), 1 << 20)
                    .await
            })
        })
        .collect();
    for t in tasks {
        let stored = t.await.expect("task").expect("put");
        assert_eq!(stored.sha256, Sha256Digest::of(&bytes));
    }
    assert_eq!(files(dir.path()).len(), 1);
    assert!(temps(dir.path()).is_empty());
    let mut f = store
        .get(&Sha256Digest::of(&bytes))
        .await
        .expect("get")
        .expect("some");
    let mut back = Vec::new();
    f.file.read_to_end(&mut back).await.expect("read");
    assert_eq!(back, *bytes);
    // And once more, sequentially: idempotent.
    let again = store.put_reader(&bytes[..], 1 << 20).await.expect("put");
    assert_eq!(again.size, 300_000);
    assert_eq!(files(dir.path()).len(), 1);
}

#[tokio::test]
async fn a_damaged_file_is_replaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = MediaStore::open(dir.path()).await.expect("open");
    let bytes = data(1000, 8);
    let stored = store.put_reader(&bytes[..], 1 << 20).await.expect("put");
    let path = store.path_for(&stored.sha256);
    std::fs::write(&path, b"truncated").expect("damage");
    store.put_reader(&bytes[..], 1 << 20).await.expect("put");
    assert_eq!(std::fs::read(&path).expect("read"), bytes);
}

#[tokio::test]
async fn open_sweeps_only_stale_temp_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fresh = dir.path().join(format!("{TEMP_PREFIX}fresh"));
    let stale = dir.path().join(format!("{TEMP_PREFIX}stale"));
    std::fs::write(&fresh, b"in progress elsewhere").expect("write");
    std::fs::write(&stale, b"left by a crash").expect("write");
    let old = SystemTime::now() - STALE_TEMP_AGE - Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .and_then(|f| f.set_modified(old))
        .expect("age it");
    MediaStore::open(dir.path()).await.expect("open");
    assert!(fresh.exists());
    assert!(!stale.exists());
}

/// `len` bytes that differ for every `seed` (the seeds of [`data`] only
/// reach its low bits, which its shift drops).
fn distinct(len: usize, seed: u32) -> Vec<u8> {
    data(len, seed << 13)
}

/// Chunks of `bytes` as a stream (as a multipart field yields them).
fn stream(bytes: &[u8]) -> impl Stream<Item = Result<Vec<u8>, io::Error>> + use<> {
    let chunks: Vec<Result<Vec<u8>, io::Error>> =
        bytes.chunks(4096).map(|c| Ok(c.to_vec())).collect();
    futures::stream::iter(chunks)
}

#[cfg(unix)]
fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o7777
}

/// Every entry under `dir`, directories included.
fn everything(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("list") {
        let e = e.expect("entry");
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().expect("type").is_dir() {
            out.push(format!("{name}/"));
            for f in std::fs::read_dir(e.path()).expect("list") {
                out.push(format!(
                    "{name}/{}",
                    f.expect("entry").file_name().to_string_lossy()
                ));
            }
        } else {
            out.push(name);
        }
    }
    out.sort();
    out
}

#[cfg(unix)]
#[tokio::test]
async fn a_discarded_stage_removes_what_it_created_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = MediaStore::open(dir.path()).await.expect("open");
    let old = distinct(5000, 20);
    let stored_old = store.put_reader(&old[..], 1 << 20).await.expect("put");
    assert_eq!(mode_of(&store.path_for(&stored_old.sha256)), KEPT_MODE);
    let before = everything(dir.path());

    let new = distinct(7000, 21);
    let mut stage = store.stage();
    let n = stage.put_stream(stream(&new), 1 << 20).await.expect("put");
    let o = stage.put_stream(stream(&old), 1 << 20).await.expect("put");
    assert_eq!(stage.created(), &[n.sha256]);
    assert_eq!(o.sha256, stored_old.sha256);
    assert_eq!(mode_of(&store.path_for(&n.sha256)), PROVISIONAL_MODE);
    stage.discard();
    assert_eq!(
        everything(dir.path()),
        before,
        "the new file and its shard are gone"
    );
    assert_eq!(mode_of(&store.path_for(&stored_old.sha256)), KEPT_MODE);

    // Dropped (a refused request's `?`, or a client gone mid-upload): the same.
    let mut stage = store.stage();
    stage.put_stream(stream(&new), 1 << 20).await.expect("put");
    drop(stage);
    assert_eq!(everything(dir.path()), before);

    // The same new bytes twice in one request: created once, removed once.
    let mut stage = store.stage();
    stage.put_stream(stream(&new), 1 << 20).await.expect("put");
    stage.put_stream(stream(&new), 1 << 20).await.expect("put");
    assert_eq!(stage.created(), &[n.sha256]);
    assert_eq!(mode_of(&store.path_for(&n.sha256)), PROVISIONAL_MODE);
    stage.discard();
    assert_eq!(everything(dir.path()), before);
}

#[cfg(unix)]
#[tokio::test]
async fn an_accepted_stage_keeps_its_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = MediaStore::open(dir.path()).await.expect("open");
    let bytes = distinct(3000, 22);
    let mut stage = store.stage();
    let s = stage
        .put_stream(stream(&bytes), 1 << 20)
        .await
        .expect("put");
    stage.keep();
    assert_eq!(mode_of(&store.path_for(&s.sha256)), KEPT_MODE);
    // Once handed to the log, a dropped request keeps its files too.
    let other = distinct(3000, 23);
    let mut stage = store.stage();
    let o = stage
        .put_stream(stream(&other), 1 << 20)
        .await
        .expect("put");
    stage.keep_on_drop();
    drop(stage);
    assert_eq!(mode_of(&store.path_for(&o.sha256)), KEPT_MODE);
    assert_eq!(files(dir.path()).len(), 2);
}

#[cfg(unix)]
#[tokio::test]
async fn a_file_another_request_relied_on_outlives_its_creators_refusal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = MediaStore::open(dir.path()).await.expect("open");
    let bytes = distinct(9000, 24);
    let digest = Sha256Digest::of(&bytes);
    let path = store.path_for(&digest);

    // A creates it; B stores the same bytes meanwhile and is accepted; A is
    // refused afterwards: the file B's token names stays.
    let mut a = store.stage();
    a.put_stream(stream(&bytes), 1 << 20).await.expect("put");
    let mut b = store.stage();
    b.put_stream(stream(&bytes), 1 << 20).await.expect("put");
    assert!(b.created().is_empty());
    assert_eq!(mode_of(&path), KEPT_MODE, "B relies on it: kept");
    b.keep();
    a.discard();
    assert_eq!(std::fs::read(&path).expect("still there"), bytes);
    assert_eq!(mode_of(&path), KEPT_MODE);
    assert!(
        files(dir.path())
            .iter()
            .all(|f| !f.starts_with(TAKEN_PREFIX))
    );

    // A plain put relies on a provisional file the same way.
    let other = distinct(9000, 25);
    let mut c = store.stage();
    c.put_stream(stream(&other), 1 << 20).await.expect("put");
    store.put_reader(&other[..], 1 << 20).await.expect("put");
    c.discard();
    assert!(
        store
            .contains(&Sha256Digest::of(&other))
            .await
            .expect("contains")
    );

    // Both refused: the file stays, referenced by nothing (the rule's
    // accepted leftover).
    let third = distinct(9000, 26);
    let mut d = store.stage();
    d.put_stream(stream(&third), 1 << 20).await.expect("put");
    let mut e = store.stage();
    e.put_stream(stream(&third), 1 << 20).await.expect("put");
    e.discard();
    d.discard();
    assert!(
        store
            .contains(&Sha256Digest::of(&third))
            .await
            .expect("contains")
    );
    assert!(temps(dir.path()).is_empty());
}

/// Many requests store the same bytes at once; some are refused, some
/// accepted, in any order: whenever one was accepted, the file is there.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_stages_never_lose_a_kept_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = MediaStore::open(dir.path()).await.expect("open");
    for round in 0..40u32 {
        let bytes = std::sync::Arc::new(distinct(20_000, 100 + round));
        let tasks: Vec<_> = (0..6u32)
            .map(|i| {
                let (store, bytes) = (store.clone(), bytes.clone());
                tokio::spawn(async move {
                    let mut stage = store.stage();
                    stage
                        .put_stream(stream(&bytes), 1 << 20)
                        .await
                        .expect("put");
                    tokio::task::yield_now().await;
                    let accepted = (i + round) % 3 == 0;
                    if accepted {
                        stage.keep();
                    } else {
                        stage.discard();
                    }
                    accepted
                })
            })
            .collect();
        let mut any = false;
        for t in tasks {
            any |= t.await.expect("task");
        }
        assert!(any, "round {round}: some request is accepted");
        let path = store.path_for(&Sha256Digest::of(&bytes));
        assert_eq!(
            std::fs::read(&path).expect("kept file"),
            *bytes,
            "round {round}"
        );
        assert_eq!(mode_of(&path), KEPT_MODE, "round {round}");
    }
    assert!(temps(dir.path()).is_empty());
    assert!(std::fs::read_dir(dir.path()).expect("list").all(|e| {
        !e.expect("entry")
            .file_name()
            .to_string_lossy()
            .starts_with(TAKEN_PREFIX)
    }));
}

#[cfg(unix)]
#[tokio::test]
async fn open_settles_files_a_crash_left_taken_out_of_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = MediaStore::open(dir.path()).await.expect("open");
    let kept = distinct(2000, 27);
    let k = store.put_reader(&kept[..], 1 << 20).await.expect("put");
    let mut stage = store.stage();
    let p = stage
        .put_stream(stream(&distinct(2000, 28)), 1 << 20)
        .await
        .expect("put");
    let taken_k = dir.path().join(format!("{TAKEN_PREFIX}{}-aa", k.sha256));
    let taken_p = dir.path().join(format!("{TAKEN_PREFIX}{}-bb", p.sha256));
    std::fs::rename(store.path_for(&k.sha256), &taken_k).expect("take");
    std::fs::rename(store.path_for(&p.sha256), &taken_p).expect("take");
    drop(stage); // nothing in place to discard any more
    MediaStore::open(dir.path()).await.expect("open");
    assert_eq!(
        std::fs::read(store.path_for(&k.sha256)).expect("back"),
        kept
    );
    assert!(!taken_k.exists() && !taken_p.exists());
    assert!(!store.contains(&p.sha256).await.expect("contains"));
}

#[test]
fn media_ids_parse_strictly() {
    let good = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    assert_eq!(
        parse_media_id(good).expect("good"),
        Sha256Digest::of(b"test")
    );
    let bad = [
        ("empty", String::new()),
        ("short", good[..63].to_owned()),
        ("long", format!("{good}0")),
        ("upper", good.to_uppercase()),
        ("one upper", format!("{}F", &good[..63])),
        ("non-hex", format!("{}g", &good[..63])),
        ("traversal", format!("../{}", &good[3..])),
        ("slash", format!("{}/{}", &good[..2], &good[3..])),
        ("space", format!(" {}", &good[1..])),
        ("plus", format!("+{}", &good[1..])),
        ("extension", format!("{}.png", &good[..60])),
        ("multibyte", format!("{}é", &good[..62])),
    ];
    for (name, s) in bad {
        assert!(
            matches!(parse_media_id(&s), Err(MediaError::BadDigest)),
            "row {name}: {s:?}"
        );
    }
    let p = ApiError::from(MediaError::BadDigest).to_problem();
    assert_eq!(p.status, 400);
}

#[tokio::test]
async fn multipart_size_errors_keep_their_413() {
    use axum::Router;
    use axum::body::Body;
    use axum::extract::{DefaultBodyLimit, Multipart, State};
    use axum::http::{Request, header};
    use axum::routing::post;
    use tower::ServiceExt as _;

    async fn upload(State(store): State<MediaStore>, mut m: Multipart) -> Result<String, ApiError> {
        let field = m
            .next_field()
            .await?
            .ok_or_else(|| ApiError::bad_request("no file"))?;
        let stored = store.put_stream(field, 1 << 20).await?;
        Ok(stored.sha256.to_string())
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let store = MediaStore::open(dir.path()).await.expect("open");
    let app = Router::new()
        .route("/media", post(upload))
        .layer(DefaultBodyLimit::max(4096))
        .with_state(store.clone());
    let body = |n: usize| {
        format!(
            "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n{}\r\n--B--\r\n",
            "x".repeat(n)
        )
    };
    let send = |b: String| {
        app.clone().oneshot(
            Request::post("/media")
                .header(header::CONTENT_TYPE, "multipart/form-data; boundary=B")
                .body(Body::from(b))
                .expect("request"),
        )
    };
    let ok = send(body(100)).await.expect("infallible");
    assert_eq!(ok.status(), 200);
    let digest = axum::body::to_bytes(ok.into_body(), 1024)
        .await
        .expect("body");
    assert_eq!(
        digest,
        Sha256Digest::of(&[b'x'; 100]).to_string().as_bytes()
    );
    let big = send(body(10_000)).await.expect("infallible");
    assert_eq!(big.status(), 413);
    assert!(temps(dir.path()).is_empty());
}
