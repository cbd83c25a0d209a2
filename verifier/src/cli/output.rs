//! Human output: the verdict with each check as a line, coloured when
//! stdout is a terminal (and `NO_COLOR` is not set).

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use loupe_schemas::token::Token;

use crate::verdict::rfc3339 as date;
use crate::{Outcome, Status, Verdict};

/// Whether to colour stdout.
pub fn use_colour() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::IsTerminal::is_terminal(&std::io::stdout())
}

struct Paint(bool);

impl Paint {
    fn code(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn green(&self, t: &str) -> String {
        self.code("1;32", t)
    }
    fn red(&self, t: &str) -> String {
        self.code("1;31", t)
    }
    fn yellow(&self, t: &str) -> String {
        self.code("1;33", t)
    }
    fn dim(&self, t: &str) -> String {
        self.code("2", t)
    }
}

/// Renders a verdict for people.
pub fn human(v: &Verdict, colour: bool) -> String {
    let p = Paint(colour);
    let mut out = String::new();
    let word = v.status.as_str().to_uppercase();
    let banner = match v.status {
        Status::Valid => p.green(&word),
        Status::Invalid => p.red(&word),
        Status::Revoked | Status::Superseded | Status::Unknown => p.yellow(&word),
    };
    let _ = writeln!(out, "{banner}  {}", v.summary);
    if let Some(t) = &v.token {
        let s = &t.provenance().stone;
        let _ = writeln!(
            out,
            "  {} {} ({}), {:.2} ct, {}, {}, {} — lab {}, report {}, issued {}",
            s.variety,
            s.species,
            s.colour,
            s.weight_mct as f64 / 1000.0,
            s.shape,
            s.cut,
            s.clarity,
            t.claims().iss,
            t.claims().sub,
            date(t.claims().iat)
        );
        let _ = writeln!(out, "  token {}", t.id);
    }
    if let Some(url) = &v.url {
        let _ = writeln!(out, "  url   {url}");
    }
    for c in &v.checks {
        let mark = match c.outcome {
            Outcome::Pass => p.green("✓"),
            Outcome::Fail => p.red("✗"),
            Outcome::Skip => p.dim("–"),
        };
        let name = match &c.subject {
            Some(s) => format!("{} {s}", c.name.as_str()),
            None => c.name.as_str().to_owned(),
        };
        let _ = writeln!(out, "  {mark} {name:<22} {}", c.reason);
    }
    out
}

/// The decoded token as JSON (the shape of `schemas/json/token.schema.json`).
pub fn token_json(token: &Token) -> serde_json::Value {
    let mut view = serde_json::json!({
        "id": token.id(),
        "alg": token.alg().cose_value(),
        "kid": hex::encode(token.kid().as_bytes()),
        "claims": token.claims(),
        "provenance": token.provenance(),
    });
    if let (Some(chain), Some(obj)) = (token.x5chain(), view.as_object_mut()) {
        obj.insert(
            "x5chain".into(),
            chain.iter().map(|c| STANDARD.encode(c)).collect(),
        );
    }
    view
}

/// The decoded token for people.
pub fn token_text(token: &Token) -> String {
    let mut out = String::new();
    let c = token.claims();
    let p = token.provenance();
    let s = &p.stone;
    let _ = writeln!(out, "token     {}", token.id());
    let _ = writeln!(
        out,
        "issuer    {}  (kid {}, alg {})",
        c.iss,
        hex::encode(token.kid().as_bytes()),
        token.alg().cose_value()
    );
    let _ = writeln!(out, "report    {}", c.sub);
    let _ = writeln!(out, "issued    {}", date(c.iat));
    let _ = writeln!(
        out,
        "stone     {} {}, {:.3} ct, {}, {} {}, clarity {}, {:.2}×{:.2}×{:.2} mm, treatment {}{}",
        s.variety,
        s.species,
        s.weight_mct as f64 / 1000.0,
        s.colour,
        s.shape,
        s.cut,
        s.clarity,
        s.dimensions_um[0] as f64 / 1000.0,
        s.dimensions_um[1] as f64 / 1000.0,
        s.dimensions_um[2] as f64 / 1000.0,
        s.treatment,
        s.origin
            .as_deref()
            .map(|o| format!(", origin {o}"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "file      report  {}  {} bytes  sha256 {}",
        p.report.media_type,
        p.report.size,
        hex::encode(p.report.sha256.as_bytes())
    );
    for i in &p.images {
        let _ = writeln!(
            out,
            "file      {:<8}{}  {} bytes  sha256 {}",
            i.role.to_string(),
            i.media_type,
            i.size,
            hex::encode(i.sha256.as_bytes())
        );
    }
    for v in &p.videos {
        let _ = writeln!(
            out,
            "file      {:<8}{}  {} bytes  sha256 {}",
            v.role.to_string(),
            v.media_type,
            v.size,
            hex::encode(v.sha256.as_bytes())
        );
    }
    if let Some(s) = &p.supersedes {
        let _ = writeln!(out, "replaces  {s}");
    }
    if let Some(chain) = token.x5chain() {
        let _ = writeln!(out, "x5chain   {} certificate(s)", chain.len());
    }
    let _ = writeln!(out, "(not verified: use `loupe verify`)");
    out
}
