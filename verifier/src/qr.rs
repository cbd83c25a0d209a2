//! Reading a QR code from a photo or screenshot (PNG; JPEG is not built
//! in), with `image` and `rqrr`.

/// The largest image accepted (16 MiB) and its largest side (8,000 px).
pub const MAX_IMAGE_SIZE: usize = 16 << 20;
const MAX_SIDE: u32 = 8_000;

/// Why no URL was read from an image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    /// The bytes are not an image this build reads.
    #[error("not a readable image: {0}")]
    Image(String),
    /// The image is too large.
    #[error("the image is too large (at most 16 MiB and 8000×8000 pixels)")]
    TooLarge,
    /// No QR code was found.
    #[error("no QR code found in the image")]
    NotFound,
    /// A QR code was found but could not be decoded.
    #[error("the QR code could not be read: {0}")]
    Decode(String),
}

/// Decodes the first QR code in an image and returns its text.
///
/// # Errors
/// [`QrError`].
pub fn decode_qr(bytes: &[u8]) -> Result<String, QrError> {
    if bytes.len() > MAX_IMAGE_SIZE {
        return Err(QrError::TooLarge);
    }
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| QrError::Image(e.to_string()))?;
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| QrError::Image(e.to_string()))?;
    if w > MAX_SIDE || h > MAX_SIDE {
        return Err(QrError::TooLarge);
    }
    let img = image::load_from_memory(bytes).map_err(|e| QrError::Image(e.to_string()))?;
    let luma = img.to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(luma);
    let grids = prepared.detect_grids();
    let grid = grids.first().ok_or(QrError::NotFound)?;
    let (_meta, content) = grid.decode().map_err(|e| QrError::Decode(e.to_string()))?;
    Ok(content)
}
