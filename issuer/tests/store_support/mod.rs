//! Shared helpers of the store and sequencer tests: fresh real databases
//! (an SQLite file in a temporary directory; a new PostgreSQL database per
//! test when `LOUPE_TEST_POSTGRES_URL` is set), sample statements and keys.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use loupe_issuer::store::{Store, open_store};
use loupe_schemas::checkpoint::NoteSigner;
use loupe_schemas::token::{
    FileDigest, ImageDigest, ImageRole, Provenance, RevocationBuilder, Sha256Digest, Statement,
    Stone, TokenBuilder, TokenId,
};
use sqlx::Connection as _;

/// The log origin of the tests.
pub const ORIGIN: &str = "lab.example/log";
/// The issuer of the tests.
pub const ISSUER: &str = "lab.example";

/// A test database, SQLite or PostgreSQL.
pub struct TestDb {
    /// The URL to open it with.
    pub url: String,
    /// `sqlite` or `postgres`, for messages.
    pub name: &'static str,
    _dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the admin URL and the database name to drop.
    admin: Option<(String, String)>,
}

impl TestDb {
    /// A fresh SQLite file in a temporary directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("log.db").display());
        Self {
            url,
            name: "sqlite",
            _dir: Some(dir),
            admin: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` (with the skip message) when
    /// `LOUPE_TEST_POSTGRES_URL` is not set.
    pub async fn postgres() -> Option<Self> {
        let Ok(admin) = std::env::var("LOUPE_TEST_POSTGRES_URL") else {
            println!("skipped: LOUPE_TEST_POSTGRES_URL not set");
            return None;
        };
        let name = format!("loupe_t_{}", hex::encode(rand::random::<[u8; 8]>()));
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let (base, query) = match admin.split_once('?') {
            Some((b, q)) => (b, format!("?{q}")),
            None => (admin.as_str(), String::new()),
        };
        let prefix = base
            .rsplit_once('/')
            .filter(|(p, _)| p.contains("//") && !p.ends_with('/'))
            .map_or(base, |(p, _)| p);
        Some(Self {
            url: format!("{prefix}/{name}{query}"),
            name: "postgres",
            _dir: None,
            admin: Some((admin, name)),
        })
    }

    /// Every back end available: SQLite always, PostgreSQL when configured.
    pub async fn all() -> Vec<Self> {
        let mut dbs = vec![Self::sqlite()];
        dbs.extend(Self::postgres().await);
        dbs
    }

    /// Opens the store.
    pub async fn open(&self) -> Arc<dyn Store> {
        open_store(&self.url).await.unwrap()
    }

    /// Runs one SQL statement on a connection of its own.
    pub async fn exec(&self, sql: &str) -> Result<u64, sqlx::Error> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        if self.admin.is_some() {
            let mut c = sqlx::PgConnection::connect(&self.url).await?;
            let n = sqlx::raw_sql(sql).execute(&mut c).await?.rows_affected();
            c.close().await?;
            Ok(n)
        } else {
            let mut c = sqlx::SqliteConnection::connect(&self.url).await?;
            let n = sqlx::raw_sql(sql).execute(&mut c).await?.rows_affected();
            c.close().await?;
            Ok(n)
        }
    }

    /// Counts the rows of `table`.
    pub async fn count(&self, table: &str) -> i64 {
        let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
        if self.admin.is_some() {
            let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
        } else {
            let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
        }
    }

    /// Whether this is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.admin.is_some()
    }

    /// Drops a PostgreSQL database (SQLite files go with their directory).
    pub async fn cleanup(self) {
        if let Some((admin, name)) = &self.admin {
            let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await
            .unwrap();
            conn.close().await.unwrap();
        }
    }
}

/// The log's note signer.
pub fn log_signer() -> NoteSigner {
    NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[9; 32])).unwrap()
}

/// The issuer's signing key.
pub fn issuer_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

/// Another issuer's signing key.
pub fn other_issuer_key() -> SigningKey {
    SigningKey::from_bytes(&[8; 32])
}

/// A sample provenance, varied by `n`.
pub fn provenance(n: u64, supersedes: Option<TokenId>) -> Provenance {
    Provenance {
        report: FileDigest {
            sha256: Sha256Digest::of(&n.to_be_bytes()),
            media_type: "application/pdf".into(),
            size: 1000 + n,
        },
        images: vec![ImageDigest {
            role: ImageRole::FaceUp,
            sha256: Sha256Digest::of(&[n.to_be_bytes(), [1; 8]].concat()),
            media_type: "image/jpeg".into(),
            size: 2000 + n,
        }],
        videos: vec![],
        stone: Stone {
            variety: "Ruby".into(),
            species: "Corundum".into(),
            weight_mct: 1000 + n,
            colour: "red".into(),
            shape: "oval".into(),
            cut: "mixed".into(),
            clarity: "VS".into(),
            dimensions_um: [7100, 5600, 3400],
            treatment: "none".into(),
            origin: None,
        },
        supersedes,
    }
}

/// A token of `iss` for report `sub`, signed by `key`.
pub fn token_of(
    key: &SigningKey,
    iss: &str,
    sub: &str,
    n: u64,
    supersedes: Option<TokenId>,
) -> Statement {
    let token = TokenBuilder::new(iss, sub, provenance(n, supersedes))
        .iat(1_700_000_000 + n)
        .sign(key)
        .unwrap();
    Statement::Token(token)
}

/// A token of the test issuer for report `R-{n}`.
pub fn token(n: u64) -> Statement {
    token_of(&issuer_key(), ISSUER, &format!("R-{n}"), n, None)
}

/// A token of the test issuer for report `sub` replacing `supersedes`.
pub fn token_for(sub: &str, n: u64, supersedes: Option<TokenId>) -> Statement {
    token_of(&issuer_key(), ISSUER, sub, n, supersedes)
}

/// A revocation of `revokes` by `iss`.
pub fn revocation_of(key: &SigningKey, iss: &str, revokes: TokenId, reason: &str) -> Statement {
    Statement::Revocation(
        RevocationBuilder::new(iss, revokes, reason)
            .iat(1_700_000_000)
            .sign(key)
            .unwrap(),
    )
}

/// A revocation by the test issuer.
pub fn revocation(revokes: TokenId) -> Statement {
    revocation_of(&issuer_key(), ISSUER, revokes, "withdrawn")
}

/// The current Unix time.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The configuration of an in-process test issuer (`app::spawn`) on
/// `database_url`: the example keys, a loopback port, small body limits
/// and a 2 ms batch delay, media under `media_dir`.
pub fn serve_config(
    database_url: &str,
    media_dir: &std::path::Path,
) -> loupe_issuer::config::ServeConfig {
    let keys = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../keys-example");
    loupe_issuer::config::ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: database_url.to_owned(),
        public_base_url: "https://lab.example".into(),
        verify_url: Some("https://verify.example/verify".into()),
        issuer_origin: ISSUER.into(),
        log_origin: ORIGIN.into(),
        issuer_key: keys.join("issuer.key.pem"),
        log_key: keys.join("log.key.pem"),
        media_dir: media_dir.to_owned(),
        max_upload_size: 1 << 20,
        max_json_body: 64 << 10,
        batch_size: 256,
        batch_delay: std::time::Duration::from_millis(2),
        request_timeout: std::time::Duration::from_secs(30),
        rate_limit_per_minute: 0,
        max_concurrent_requests: 4096,
        connections: loupe_httpd::ConnectionLimits::default(),
        key_history: Default::default(),
        expect_checkpoint: None,
    }
}

/// A test issuer started in-process ([`serve_config`]) with a fresh API key
/// of [`ISSUER`]: the running service and the key's secret.
pub async fn spawn_issuer(
    database_url: &str,
    media_dir: &std::path::Path,
) -> (loupe_issuer::app::Running, String) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let running = loupe_issuer::app::spawn(serve_config(database_url, media_dir))
        .await
        .unwrap();
    let (key, hash) = loupe_issuer::apikey::ApiKey::generate();
    running
        .state
        .store()
        .create_api_key("tests", ISSUER, hash.as_bytes())
        .await
        .unwrap();
    (running, key.expose_secret().to_owned())
}
