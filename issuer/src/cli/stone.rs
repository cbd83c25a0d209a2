//! A stone's facts from flags or CSV cells, in the units labs write:
//! weight in carats (`1.52`), dimensions in millimetres (`7.10x5.60x3.40`).
//! Both convert exactly (no floating point) to the token's milli-carats
//! and micrometres.

use loupe_schemas::token::Stone;

/// Parses a weight in carats, at most three decimals: `1.52` → 1520 mct.
///
/// # Errors
///
/// A one-line reason.
pub fn parse_carats(s: &str) -> Result<u64, String> {
    parse_thousandths(s)
        .map_err(|why| format!("{s:?} is not a weight in carats such as 1.52 ({why})"))
}

/// Parses `L x W x D` in millimetres, at most three decimals each, with
/// `x`, `X` or `×` between them and optional spaces: `7.10x5.60x3.40` →
/// `[7100, 5600, 3400]` µm.
///
/// # Errors
///
/// A one-line reason.
pub fn parse_dimensions_mm(s: &str) -> Result<[u64; 3], String> {
    let bad = |why: &str| format!("{s:?} is not dimensions in mm such as 7.10x5.60x3.40 ({why})");
    let parts: Vec<&str> = s.split(['x', 'X', '×']).map(str::trim).collect();
    let [l, w, d] = parts.as_slice() else {
        return Err(bad("give length, width and depth"));
    };
    let mut out = [0u64; 3];
    for (slot, part) in out.iter_mut().zip([l, w, d]) {
        *slot = parse_thousandths(part).map_err(|why| bad(&why))?;
    }
    Ok(out)
}

/// `123.456` → 123456: a non-negative decimal with at most three
/// fraction digits, as thousandths.
fn parse_thousandths(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return Err("digits expected before the point".into());
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err("digits expected after the point".into());
    }
    if frac.len() > 3 {
        return Err("at most three decimals".into());
    }
    if s.ends_with('.') {
        return Err("digits expected after the point".into());
    }
    let int: u64 = int.parse().map_err(|_| "too large".to_owned())?;
    let mut frac_val: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| "bad decimals".to_owned())?
    };
    for _ in frac.len()..3 {
        frac_val *= 10;
    }
    let value = int
        .checked_mul(1000)
        .and_then(|v| v.checked_add(frac_val))
        .ok_or_else(|| "too large".to_owned())?;
    if value == 0 {
        return Err("must be greater than 0".into());
    }
    Ok(value)
}

/// The stone's facts as `issue` flags. Each is required for a single
/// stone (not with `--batch`).
#[derive(Debug, Clone, Default, clap::Args)]
#[group(id = "stone_facts", multiple = true)]
pub struct StoneArgs {
    /// Trade variety, e.g. Ruby.
    #[arg(long, value_name = "TEXT")]
    pub variety: Option<String>,
    /// Mineral species, e.g. Corundum.
    #[arg(long, value_name = "TEXT")]
    pub species: Option<String>,
    /// Weight in carats, at most three decimals, e.g. 1.52.
    #[arg(long = "weight", value_name = "CARATS", value_parser = parse_carats)]
    pub weight_mct: Option<u64>,
    /// Colour, e.g. "pigeon's blood red".
    #[arg(long, value_name = "TEXT")]
    pub colour: Option<String>,
    /// Shape, e.g. oval.
    #[arg(long, value_name = "TEXT")]
    pub shape: Option<String>,
    /// Cutting style, e.g. mixed.
    #[arg(long, value_name = "TEXT")]
    pub cut: Option<String>,
    /// Clarity grade, e.g. VS.
    #[arg(long, value_name = "TEXT")]
    pub clarity: Option<String>,
    /// Length x width x depth in millimetres, e.g. 7.10x5.60x3.40.
    #[arg(long = "dimensions", value_name = "LxWxD", value_parser = parse_dimensions_mm)]
    pub dimensions_um: Option<[u64; 3]>,
    /// Treatment, e.g. none or heated.
    #[arg(long, value_name = "TEXT")]
    pub treatment: Option<String>,
    /// Geographic origin, when the report states one.
    #[arg(long, value_name = "TEXT")]
    pub origin: Option<String>,
}

impl StoneArgs {
    /// The stone, validated.
    ///
    /// # Errors
    ///
    /// A one-line message naming the first missing flag, or the invalid
    /// field.
    pub fn to_stone(&self) -> Result<Stone, String> {
        fn need<T: Clone>(v: &Option<T>, flag: &str) -> Result<T, String> {
            v.clone().ok_or_else(|| format!("--{flag} is required"))
        }
        let stone = Stone {
            variety: need(&self.variety, "variety")?,
            species: need(&self.species, "species")?,
            weight_mct: need(&self.weight_mct, "weight")?,
            colour: need(&self.colour, "colour")?,
            shape: need(&self.shape, "shape")?,
            cut: need(&self.cut, "cut")?,
            clarity: need(&self.clarity, "clarity")?,
            dimensions_um: need(&self.dimensions_um, "dimensions")?,
            treatment: need(&self.treatment, "treatment")?,
            origin: self.origin.clone(),
        };
        stone.validate().map_err(|e| e.to_string())?;
        Ok(stone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carats_convert_exactly() {
        for (s, want) in [
            ("1.52", 1520),
            ("1", 1000),
            ("0.001", 1),
            ("12.5", 12_500),
            (" 3.105 ", 3105),
            ("0100.000", 100_000),
        ] {
            assert_eq!(parse_carats(s), Ok(want), "{s}");
        }
        for s in [
            "",
            "0",
            "0.000",
            "1.5205",
            "1,52",
            "-1",
            "1.",
            ".5",
            "1.5ct",
            "1e3",
            "1.2.3",
            "99999999999999999999",
        ] {
            assert!(parse_carats(s).is_err(), "{s} should be refused");
        }
    }

    #[test]
    fn dimensions_convert_exactly() {
        assert_eq!(
            parse_dimensions_mm("7.10x5.60x3.40"),
            Ok([7100, 5600, 3400])
        );
        assert_eq!(
            parse_dimensions_mm("7.1 × 5.6 × 3.4"),
            Ok([7100, 5600, 3400])
        );
        assert_eq!(parse_dimensions_mm("10X9x0.005"), Ok([10_000, 9000, 5]));
        for s in [
            "7.1x5.6",
            "7.1x5.6x3.4x1",
            "7.1x0x3",
            "a x b x c",
            "7.1;5.6;3.4",
            "",
        ] {
            assert!(parse_dimensions_mm(s).is_err(), "{s} should be refused");
        }
    }

    #[test]
    fn stone_args_name_the_first_missing_flag() {
        let mut args = StoneArgs {
            variety: Some("Ruby".into()),
            species: Some("Corundum".into()),
            weight_mct: Some(1520),
            colour: Some("red".into()),
            shape: Some("oval".into()),
            cut: Some("mixed".into()),
            clarity: Some("VS".into()),
            dimensions_um: Some([7100, 5600, 3400]),
            treatment: Some("none".into()),
            origin: None,
        };
        assert!(args.to_stone().is_ok());
        args.cut = None;
        assert_eq!(args.to_stone(), Err("--cut is required".into()));
        args.cut = Some("bad\u{7}".into());
        assert!(args.to_stone().is_err_and(|e| e.contains("stone.cut")));
    }
}
