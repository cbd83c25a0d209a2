//! `loupe-issuer revoke TOKEN_ID --reason TEXT`: logs a revocation of the
//! token through the HTTP API.

use loupe_schemas::token::{MAX_REASON_LEN, TokenId};

use super::{CliError, ServerArgs};

/// Flags of `revoke`.
#[derive(Debug, Clone, clap::Args)]
pub struct RevokeArgs {
    /// Issuer URL and API key.
    #[command(flatten)]
    pub server: ServerArgs,
    /// The token to revoke.
    #[arg(value_name = "TOKEN_ID", allow_hyphen_values = true)]
    pub token_id: TokenId,
    /// Why, for the public log (no personal data).
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// Print the issuer's answer as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `revoke`.
///
/// # Errors
///
/// [`CliError::Usage`] for an empty or too long reason; [`CliError::Client`].
pub async fn run(args: RevokeArgs) -> Result<(), CliError> {
    let reason = args.reason.trim();
    if reason.is_empty() || reason.len() > MAX_REASON_LEN || reason.chars().any(char::is_control) {
        return Err(CliError::Usage(format!(
            "--reason must be 1 to {MAX_REASON_LEN} bytes without control characters"
        )));
    }
    let client = args.server.client()?;
    let receipt = client.revoke(&args.token_id, reason).await?;
    if args.json {
        let text =
            serde_json::to_string_pretty(&receipt).map_err(|e| CliError::Verify(e.to_string()))?;
        println!("{text}");
    } else {
        println!(
            "revoked token {} (revocation {}, leaf index {})",
            args.token_id, receipt.revocation_id, receipt.leaf_index
        );
    }
    Ok(())
}
