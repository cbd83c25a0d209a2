//! `loupe-issuer qr URL|TOKEN_ID`: the QR code of a token URL as SVG
//! (`--svg FILE`), PNG (`--png FILE`) or, by default, text in the terminal.
//! A bare token id becomes `{base-url}/t/{id}`. Nothing is fetched.

use std::path::{Path, PathBuf};

use loupe_schemas::token::TokenId;

use super::CliError;
use crate::client::check_base_url;
use crate::qr;

/// Flags of `qr`.
#[derive(Debug, Clone, clap::Args)]
pub struct QrArgs {
    /// A token URL (http:// or https://) or a token id.
    #[arg(value_name = "URL|TOKEN_ID", allow_hyphen_values = true)]
    pub target: String,
    /// Base of token URLs, for a token id, such as `https://lab.example`.
    #[arg(long, env = "LOUPE_PUBLIC_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
    /// Write an SVG image to FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "png")]
    pub svg: Option<PathBuf>,
    /// Write a PNG image to FILE.
    #[arg(long, value_name = "FILE")]
    pub png: Option<PathBuf>,
    /// PNG pixels per module.
    #[arg(
        long,
        value_name = "PX",
        default_value_t = qr::DEFAULT_MODULE_PX,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(qr::MAX_MODULE_PX))
    )]
    pub module_px: u32,
}

/// The URL a `qr` target stands for.
///
/// # Errors
///
/// [`CliError::Usage`] when the target is neither a URL nor a token id, or
/// a token id comes without a base URL.
pub fn target_url(target: &str, base_url: Option<&str>) -> Result<String, CliError> {
    if target.starts_with("http://") || target.starts_with("https://") {
        if target.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(CliError::Usage(format!("{target:?} is not a URL")));
        }
        return Ok(target.to_owned());
    }
    let id: TokenId = target.parse().map_err(|_| {
        CliError::Usage(format!(
            "{target:?} is neither an http(s) URL nor a token id (43 characters of base64url)"
        ))
    })?;
    let base = base_url.ok_or_else(|| {
        CliError::Usage(
            "a token id needs --base-url (or LOUPE_PUBLIC_BASE_URL), such as https://lab.example"
                .into(),
        )
    })?;
    let base = check_base_url(base)?;
    Ok(format!("{base}/t/{id}"))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, bytes).map_err(|e| CliError::io("write", path, e))
}

/// Runs `qr`.
///
/// # Errors
///
/// [`CliError::Usage`], [`CliError::Qr`] or [`CliError::Io`].
pub fn run(args: &QrArgs) -> Result<(), CliError> {
    let url = target_url(&args.target, args.base_url.as_deref())?;
    if let Some(path) = &args.svg {
        write(path, qr::svg(&url)?.as_bytes())?;
        println!("wrote {} ({url})", path.display());
    } else if let Some(path) = &args.png {
        write(path, &qr::png(&url, args.module_px)?)?;
        println!("wrote {} ({url})", path.display());
    } else {
        print!("{}", qr::terminal(&url)?);
        println!("{url}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_become_urls() {
        let id = TokenId([7; 32]);
        assert_eq!(
            target_url("https://lab.example/t/x", None).expect("url"),
            "https://lab.example/t/x"
        );
        assert_eq!(
            target_url(&id.to_string(), Some("https://lab.example/")).expect("id"),
            format!("https://lab.example/t/{id}")
        );
        assert!(
            target_url(&id.to_string(), None).is_err_and(|e| e.to_string().contains("--base-url"))
        );
        assert!(target_url("lab.example/t/x", Some("https://l")).is_err());
        assert!(target_url(&id.to_string(), Some("ftp://l")).is_err());
        assert!(target_url("https://l/t/a b", None).is_err());
    }
}
