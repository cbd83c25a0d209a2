//! The edge modules together, through their public API only: keygen →
//! config → sample capture → media store → signed token → QR code that
//! decodes back to the token URL.

use loupe_issuer::config::{ConfigFile, ServeArgs};
use loupe_issuer::keys::{keygen, load_log_signer, load_signing_key};
use loupe_issuer::media::{MediaStore, parse_media_id};
use loupe_issuer::sample::{CaptureRole, write_sample_capture};
use loupe_issuer::{qr, sample};
use loupe_schemas::token::{Token, TokenBuilder, TokenId};

#[tokio::test]
async fn a_sample_capture_becomes_a_token_whose_qr_decodes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();

    // The operator makes keys and a config file pointing at them.
    keygen(&root.join("keys"), "lab.example", "lab.example/log").expect("keygen");
    std::fs::write(
        root.join("loupe.toml"),
        "public_base_url = \"https://lab.example/\"\nmedia_dir = \"media\"\n\
         issuer_key = \"keys/issuer.key.pem\"\nlog_key = \"keys/log.key.pem\"\n",
    )
    .expect("config");
    let config = ServeArgs {
        config: Some(root.join("loupe.toml")),
        ..ServeArgs::default()
    }
    .resolve()
    .expect("config resolves");
    assert_eq!(config.issuer_origin, "lab.example");
    assert_eq!(config.media_dir, root.join("media"));
    let issuer_key = load_signing_key(&config.issuer_key).expect("issuer key");
    load_log_signer(&config.log_key, &config.log_origin).expect("log key");
    assert!(ConfigFile::parse("nonsense = 1").is_err());

    // The lab captures a stone and uploads every file.
    let capture = write_sample_capture(&root.join("capture"), 0).expect("capture");
    let store = MediaStore::open(&config.media_dir).await.expect("store");
    for f in &capture.files {
        let file = tokio::fs::File::open(&f.path).await.expect("open");
        let stored = store
            .put_reader(file, config.max_upload_size)
            .await
            .expect("put");
        assert_eq!(stored.sha256, f.sha256, "{}", f.path.display());
        assert_eq!(stored.size, f.size);
        let id = parse_media_id(&stored.sha256.to_string()).expect("media id");
        assert!(store.contains(&id).await.expect("contains"));
    }

    // The token binds the stored digests.
    let provenance = capture.provenance();
    let token = TokenBuilder::new(&config.issuer_origin, &capture.report_number, provenance)
        .sign(&issuer_key)
        .expect("signs");
    let video = capture
        .file(CaptureRole::Video(
            loupe_schemas::token::VideoRole::LightPlay,
        ))
        .expect("video");
    assert_eq!(token.provenance().videos[0].sha256, video.sha256);
    assert_eq!(capture.report_number, sample::SAMPLE_REPORT_NUMBER);

    // Its QR code decodes, with an independent decoder, to the token URL.
    let url = config.token_url(&token.id());
    assert_eq!(url.len(), "https://lab.example/t/".len() + 43);
    let png = qr::png(&url, qr::DEFAULT_MODULE_PX).expect("png");
    let img = image::load_from_memory(&png).expect("decodes").to_luma8();
    let (w, h) = img.dimensions();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
            img.get_pixel(x as u32, y as u32).0[0]
        });
    let grids = prepared.detect_grids();
    let (_, content) = grids.first().expect("a QR code").decode().expect("decodes");
    assert_eq!(content, url);
    let id: TokenId = content
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("token id");
    let parsed = Token::parse(token.logged_bytes()).expect("parses");
    assert_eq!(parsed.id(), id, "the URL commits to the token");
}
