//! The buyer page's HTML: small, no script, inline CSS, readable on a
//! phone. Everything that comes from a token, a URL or a reason is
//! HTML-escaped ([`escape`]).

use std::fmt::Write as _;

use loupe_schemas::token::{ImageRole, MediaRole as _, Stone};

use super::page::PhotoView;
use crate::{Outcome, Status, Verdict};

/// Escapes text for HTML element content and double- or single-quoted
/// attribute values.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root{color-scheme:light;--ink:#111;--muted:#444;--line:#c8c8c8;--bg:#fff}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:1.125rem/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
main{max-width:40rem;margin:0 auto;padding:0 1rem 2rem}
h1{font-size:1.25rem;margin:1rem 0 .5rem}
h2{font-size:1.25rem;margin:1.75rem 0 .5rem;border-bottom:2px solid var(--line);padding-bottom:.25rem}
.brand{font-weight:700;letter-spacing:.04em;margin:.75rem 0;color:var(--muted)}
.banner{border-radius:.75rem;padding:1rem 1.25rem;color:#fff;margin:.5rem 0 1rem}
.banner .word{font-size:2.5rem;font-weight:800;line-height:1.1;margin:0}
.banner .summary{font-size:1.125rem;margin:.5rem 0 0;overflow-wrap:anywhere}
.valid{background:#0b5d2a}.invalid{background:#a1121a}.revoked{background:#8a3b00}.superseded{background:#6b4a00}.unknown{background:#3a3a3a}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}
dt{color:var(--muted)}dd{margin:0;font-weight:600;overflow-wrap:anywhere}
.note{color:var(--muted);font-size:1rem}
ul.checks{list-style:none;padding:0;margin:0}
ul.checks li{display:grid;grid-template-columns:1.75rem 1fr;padding:.5rem 0;border-bottom:1px solid var(--line)}
.mark{font-weight:800;font-size:1.25rem;line-height:1.3}
.pass .mark,.ok{color:#0b5d2a}.fail .mark,.bad{color:#a1121a}.skip .mark{color:#555}
.reason{display:block;color:var(--muted);font-size:1rem;overflow-wrap:anywhere}
ul.photos{list-style:none;padding:0;margin:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(9.5rem,1fr));gap:.75rem}
figure{margin:0;border:1px solid var(--line);border-radius:.5rem;overflow:hidden}
figure img{display:block;width:100%;height:auto;aspect-ratio:1;object-fit:cover;background:#eee}
figure .missing{display:flex;align-items:center;justify-content:center;aspect-ratio:1;background:#f3d6d6;color:#a1121a;font-size:3rem;font-weight:800}
figcaption{padding:.4rem .5rem;font-size:1rem}
figcaption .ok,figcaption .bad{font-size:1.25rem;font-weight:800}
figcaption .reason{font-size:.9rem}
details{margin-top:1.5rem}summary{cursor:pointer;font-weight:600}
code{font-size:.9rem;overflow-wrap:anywhere}
form{display:grid;gap:.75rem;margin:1rem 0}
label{font-weight:600}
input[type=url]{font:inherit;padding:.75rem;border:2px solid #555;border-radius:.5rem;width:100%}
button{font:inherit;font-weight:700;padding:.75rem 1rem;border:0;border-radius:.5rem;background:#0b3d91;color:#fff}
a{color:#0b3d91}
.error{background:#f3d6d6;color:#6d0a10;border-radius:.5rem;padding:.75rem 1rem}
footer{margin-top:2rem;color:var(--muted);font-size:.95rem}
"#;

fn head(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n",
        escape(title)
    );
}

/// The form page (`GET /`), with an error above the form when given (the
/// 400 page of `GET /verify` without a URL).
#[must_use]
pub fn index_page(error: Option<&str>) -> String {
    let mut out = String::with_capacity(4096);
    head(&mut out, "Check a gemstone certificate — Loupe");
    out.push_str("<body data-status=\"none\">\n<main>\n<p class=\"brand\">LOUPE</p>\n");
    out.push_str("<h1>Check a gemstone certificate</h1>\n");
    if let Some(e) = error {
        let _ = writeln!(out, "<p class=\"error\" role=\"alert\">{}</p>", escape(e));
    }
    out.push_str(
        "<p>Scan the QR code on the listing or certificate, or paste its link here. \
         This page checks the lab's signature and its public log, and shows what the lab certified.</p>\n\
         <form method=\"get\" action=\"/verify\">\n\
         <label for=\"url\">Certificate link</label>\n\
         <input type=\"url\" id=\"url\" name=\"url\" required inputmode=\"url\" autocomplete=\"off\" placeholder=\"https://lab.example/t/…\">\n\
         <button type=\"submit\">Check</button>\n</form>\n</main>\n</body>\n</html>\n",
    );
    out
}

/// The status word people read.
fn status_word(status: Status) -> &'static str {
    match status {
        Status::Valid => "Valid",
        Status::Invalid => "Invalid",
        Status::Revoked => "Revoked",
        Status::Superseded => "Superseded",
        Status::Unknown => "Unknown",
    }
}

fn status_mark(status: Status) -> &'static str {
    match status {
        Status::Valid => "✓",
        Status::Invalid => "✗",
        Status::Revoked | Status::Superseded => "!",
        Status::Unknown => "?",
    }
}

/// What the status means, in one line for a buyer.
fn status_advice(status: Status) -> &'static str {
    match status {
        Status::Valid => "The lab issued this certificate and it is current.",
        Status::Invalid => "Do not rely on this certificate: something in it does not check out.",
        Status::Revoked => "The lab withdrew this certificate. Ask the seller why.",
        Status::Superseded => {
            "The lab replaced this certificate with a newer one. Ask the seller for the current one."
        }
        Status::Unknown => {
            "This page could not check the certificate. Nothing is claimed either way."
        }
    }
}

/// `1520` milli-carats → `1.52`.
fn carats(mct: u64) -> String {
    let whole = mct / 1000;
    let frac = format!("{:03}", mct % 1000);
    let frac = frac.trim_end_matches('0');
    let frac = if frac.len() < 2 {
        format!("{frac:0<2}")
    } else {
        frac.to_owned()
    };
    format!("{whole}.{frac}")
}

/// Micrometres → millimetres with two decimals.
fn mm(um: u64) -> String {
    let hundredths = (um + 5) / 10;
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

/// Unix seconds → `5 March 2026, 14:03 UTC`.
fn date(t: u64) -> String {
    i64::try_from(t)
        .ok()
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .map_or_else(
            || t.to_string(),
            |d| {
                format!(
                    "{} {} {}, {:02}:{:02} UTC",
                    d.day(),
                    d.month(),
                    d.year(),
                    d.hour(),
                    d.minute()
                )
            },
        )
}

fn role_name(role: ImageRole) -> &'static str {
    match role {
        ImageRole::FaceUp => "Face up",
        ImageRole::Table => "Table",
        ImageRole::Pavilion => "Pavilion",
        ImageRole::Side => "Side",
        ImageRole::Girdle => "Girdle",
        ImageRole::Swatch => "Colour swatch",
    }
}

fn stone_rows(stone: &Stone) -> Vec<(&'static str, String)> {
    let [l, w, d] = stone.dimensions_um;
    let mut rows = vec![
        ("Variety", stone.variety.clone()),
        ("Species", stone.species.clone()),
        ("Weight", format!("{} ct", carats(stone.weight_mct))),
        ("Colour", stone.colour.clone()),
        ("Shape", stone.shape.clone()),
        ("Cut", stone.cut.clone()),
        ("Clarity", stone.clarity.clone()),
        (
            "Dimensions",
            format!("{} × {} × {} mm", mm(l), mm(w), mm(d)),
        ),
        ("Treatment", stone.treatment.clone()),
    ];
    if let Some(origin) = &stone.origin {
        rows.push(("Origin", origin.clone()));
    }
    rows
}

fn dl(out: &mut String, rows: &[(&str, String)]) {
    out.push_str("<dl>\n");
    for (k, v) in rows {
        let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(v));
    }
    out.push_str("</dl>\n");
}

/// The verdict page.
#[must_use]
pub fn verdict_page(verdict: &Verdict, photos: &[PhotoView]) -> String {
    let status = verdict.status;
    let word = status_word(status);
    let genuine = matches!(status, Status::Valid | Status::Revoked | Status::Superseded);
    let mut out = String::with_capacity(16 * 1024);
    let title = match &verdict.token {
        Some(t) => format!(
            "{word} — {} {} ct — Loupe",
            t.provenance().stone.variety,
            carats(t.provenance().stone.weight_mct)
        ),
        None => format!("{word} — Loupe"),
    };
    head(&mut out, &title);
    let _ = write!(
        out,
        "<body data-status=\"{s}\">\n<main>\n<p class=\"brand\">LOUPE</p>\n\
         <section id=\"verdict\" class=\"banner {s}\" data-status=\"{s}\" role=\"status\" aria-live=\"polite\">\n\
         <p class=\"word\"><span aria-hidden=\"true\">{mark}</span> {word}</p>\n\
         <p class=\"summary\">{advice}</p>\n<p class=\"summary\">{summary}</p>\n</section>\n",
        s = status.as_str(),
        mark = status_mark(status),
        advice = escape(status_advice(status)),
        summary = escape(&verdict.summary),
    );

    if let Some(token) = &verdict.token {
        let heading = if genuine {
            "The stone"
        } else {
            "What the certificate claims (not confirmed)"
        };
        let _ = writeln!(
            out,
            "<section aria-labelledby=\"stone-h\">\n<h2 id=\"stone-h\">{heading}</h2>"
        );
        dl(&mut out, &stone_rows(&token.provenance().stone));
        out.push_str("</section>\n<section aria-labelledby=\"cert-h\">\n<h2 id=\"cert-h\">The certificate</h2>\n");
        let mut rows = vec![
            ("Lab", token.claims().iss.clone()),
            ("Report number", token.claims().sub.clone()),
            ("Issued", date(token.claims().iat)),
        ];
        if let Some(ended) = &verdict.ended_by {
            rows.push((
                if status == Status::Revoked {
                    "Revoked by"
                } else {
                    "Replaced by"
                },
                format!("log entry {}", ended.leaf_index),
            ));
            if let Some(reason) = &ended.reason {
                rows.push(("Reason", reason.clone()));
            }
        }
        dl(&mut out, &rows);
        out.push_str("</section>\n");

        out.push_str(
            "<section aria-labelledby=\"photos-h\">\n<h2 id=\"photos-h\">Certified photos</h2>\n",
        );
        if !genuine {
            out.push_str(
                "<p class=\"note\">Photos are shown only for a certificate that checks out.</p>\n",
            );
        } else if photos.is_empty() {
            out.push_str("<p class=\"note\">The lab certified no photos, or they could not be fetched.</p>\n");
        } else {
            out.push_str("<ul class=\"photos\">\n");
            for p in photos {
                let name = role_name(p.role);
                out.push_str("<li><figure>");
                if p.matches {
                    let _ = write!(
                        out,
                        "<img src=\"/photo/{}\" alt=\"{} photo of the stone\" width=\"300\" height=\"300\" loading=\"lazy\" data-role=\"{}\" data-match=\"yes\">",
                        p.sha256,
                        escape(name),
                        p.role.as_str()
                    );
                } else {
                    let _ = write!(
                        out,
                        "<div class=\"missing\" role=\"img\" aria-label=\"{} photo not shown\" data-role=\"{}\" data-match=\"no\">✗</div>",
                        escape(name),
                        p.role.as_str()
                    );
                }
                let (mark, class, said) = if p.matches {
                    ("✓", "ok", "matches")
                } else {
                    ("✗", "bad", "does not match")
                };
                let _ = writeln!(
                    out,
                    "<figcaption><span class=\"{class}\" role=\"img\" aria-label=\"{said}\">{mark}</span> <b>{}</b><span class=\"reason\">{}</span></figcaption></figure></li>",
                    escape(name),
                    escape(&p.reason)
                );
            }
            out.push_str("</ul>\n");
        }
        out.push_str("</section>\n");
    }

    out.push_str("<section aria-labelledby=\"checks-h\">\n<h2 id=\"checks-h\">Checks</h2>\n<ul class=\"checks\">\n");
    for c in &verdict.checks {
        let (class, mark, said) = match c.outcome {
            Outcome::Pass => ("pass", "✓", "passed"),
            Outcome::Fail => ("fail", "✗", "failed"),
            Outcome::Skip => ("skip", "–", "not checked"),
        };
        let title = match &c.subject {
            Some(s) => format!("{} ({s})", c.name.title()),
            None => c.name.title().to_owned(),
        };
        let _ = writeln!(
            out,
            "<li class=\"{class}\" data-check=\"{}\" data-outcome=\"{class}\"><span class=\"mark\" aria-label=\"{said}\">{mark}</span><span><b>{}</b><span class=\"reason\">{}</span></span></li>",
            c.name.as_str(),
            escape(&title),
            escape(&c.reason)
        );
    }
    out.push_str("</ul>\n</section>\n");

    out.push_str("<details>\n<summary>Technical details</summary>\n");
    let mut rows = Vec::new();
    if let Some(url) = &verdict.url {
        rows.push(("Link", url.clone()));
    }
    if let Some(t) = &verdict.token {
        rows.push(("Token id", t.id.to_string()));
    }
    if let Some(log) = &verdict.log {
        rows.push(("Log", log.origin.clone()));
        rows.push((
            "Log entry",
            format!("{} of {}", log.leaf_index, log.tree_size),
        ));
        rows.push(("Log root", log.root_hash.clone()));
    }
    rows.push(("Checked", date(verdict.verified_at)));
    dl(&mut out, &rows);
    out.push_str("</details>\n");
    out.push_str(
        "<footer>This page trusts only the labs and logs in its trust store, and checks every answer it gets from them. \
         <a href=\"/\">Check another certificate</a></footer>\n</main>\n</body>\n</html>\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert('x')</script> & "q""#),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn formats_weights_sizes_and_dates() {
        assert_eq!(carats(1520), "1.52");
        assert_eq!(carats(1000), "1.00");
        assert_eq!(carats(1505), "1.505");
        assert_eq!(carats(50), "0.05");
        assert_eq!(mm(7100), "7.10");
        assert_eq!(mm(5555), "5.56");
        assert_eq!(mm(0), "0.00");
        assert_eq!(date(0), "1 January 1970, 00:00 UTC");
        assert_eq!(date(1_772_719_380), "5 March 2026, 14:03 UTC");
    }

    #[test]
    fn the_index_page_has_a_form_and_escapes_its_error() {
        let page = index_page(Some("<b>bad</b>"));
        assert!(page.contains("<form method=\"get\" action=\"/verify\">"));
        assert!(page.contains("&lt;b&gt;bad&lt;/b&gt;"));
        assert!(!page.contains("<b>bad</b>"));
    }
}
