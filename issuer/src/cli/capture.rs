//! The files of one stone: a capture folder recognised by file name, or
//! files named one by one (`--report FILE`, `--image ROLE=FILE`).
//!
//! A capture folder must hold the whole standard capture: the report PDF
//! (`report.pdf`), the six shots (`face-up`, `table`, `pavilion`, `side`,
//! `girdle`, `swatch`, each `.jpg`, `.jpeg`, `.png`, `.webp`, `.heic`,
//! `.tif` or `.tiff`) and the light-play video (`light-play.mp4`, `.mov`
//! or `.webm`). Names are matched case-insensitively
//! ([`CaptureRole::from_file_name`]); other files are ignored. A missing
//! role, or two files for one role, is an error that names them.

use std::path::{Path, PathBuf};

use loupe_schemas::token::{ImageRole, MediaRole as _, VideoRole};

use crate::client::{UploadFile, role_name};
use crate::sample::CaptureRole;

/// A capture folder or a named file is not usable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// The folder cannot be listed.
    #[error("cannot read capture folder {}: {source}", dir.display())]
    Read {
        /// The folder.
        dir: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Roles of the standard capture have no file.
    #[error("capture folder {} is missing {}{}", dir.display(), missing.join(", "), unrecognised_note(unrecognised))]
    Missing {
        /// The folder.
        dir: PathBuf,
        /// Each missing role with the file names that would fit it.
        missing: Vec<String>,
        /// Files in the folder that fit no role.
        unrecognised: Vec<String>,
    },
    /// Two files fit one role.
    #[error("capture folder {} has two files for {role}: {first} and {second}", dir.display())]
    Duplicate {
        /// The folder.
        dir: PathBuf,
        /// The role.
        role: &'static str,
        /// One file.
        first: String,
        /// The other.
        second: String,
    },
    /// A role was given twice on the command line.
    #[error("{role} is given twice")]
    RepeatedRole {
        /// The role.
        role: &'static str,
    },
    /// A named file does not exist or is not a regular file.
    #[error("{} ({role}) is not a readable file", path.display())]
    NotAFile {
        /// The file.
        path: PathBuf,
        /// Its role.
        role: &'static str,
    },
    /// A named file's extension fits no media type of its role.
    #[error("cannot tell the media type of {} from its extension; {role} takes {allowed}", path.display())]
    UnknownExtension {
        /// The file.
        path: PathBuf,
        /// Its role.
        role: &'static str,
        /// The extensions the role takes.
        allowed: &'static str,
    },
    /// `ROLE=FILE` names no role, or is not of that form.
    #[error("{given:?}: expected ROLE=FILE with ROLE one of {roles}")]
    BadRoleArg {
        /// What was given.
        given: String,
        /// The roles accepted.
        roles: String,
    },
    /// No report file.
    #[error("a report file is required (--report FILE, or --capture DIR)")]
    NoReport,
}

fn unrecognised_note(files: &[String]) -> String {
    if files.is_empty() {
        String::new()
    } else {
        format!(" (not recognised: {})", files.join(", "))
    }
}

/// The extensions a role takes, for messages.
#[must_use]
pub fn allowed_extensions(role: CaptureRole) -> &'static str {
    match role {
        CaptureRole::Report => ".pdf",
        CaptureRole::Image(_) => ".jpg, .jpeg, .png, .webp, .heic, .tif or .tiff",
        CaptureRole::Video(_) => ".mp4, .mov or .webm",
    }
}

fn expected_name(role: CaptureRole) -> String {
    match role {
        CaptureRole::Report => "report (report.pdf)".to_owned(),
        CaptureRole::Image(r) => format!("{0} ({0}.jpg or .png …)", r.as_str()),
        CaptureRole::Video(r) => format!("{0} ({0}.mp4, .mov or .webm)", r.as_str()),
    }
}

/// Recognises the files of a capture folder from their names: one per
/// role of [`CaptureRole::all`], in that order.
///
/// # Errors
///
/// [`CaptureError::Missing`] naming every missing role (and the files
/// that were not recognised), or [`CaptureError::Duplicate`].
pub fn recognise(dir: &Path, names: &[String]) -> Result<Vec<UploadFile>, CaptureError> {
    let all = CaptureRole::all();
    let mut found: Vec<Option<(String, &'static str)>> = vec![None; all.len()];
    let mut unrecognised = Vec::new();
    let mut sorted: Vec<&String> = names.iter().collect();
    sorted.sort();
    for name in sorted {
        if name.starts_with('.') {
            continue;
        }
        let Some((role, media_type)) = CaptureRole::from_file_name(name) else {
            unrecognised.push(name.clone());
            continue;
        };
        let Some(slot) = all
            .iter()
            .position(|r| *r == role)
            .and_then(|i| found.get_mut(i))
        else {
            continue;
        };
        if let Some((first, _)) = slot {
            return Err(CaptureError::Duplicate {
                dir: dir.to_path_buf(),
                role: role_name(role),
                first: first.clone(),
                second: name.clone(),
            });
        }
        *slot = Some((name.clone(), media_type));
    }
    let missing: Vec<String> = all
        .iter()
        .zip(&found)
        .filter(|(_, f)| f.is_none())
        .map(|(r, _)| expected_name(*r))
        .collect();
    if !missing.is_empty() {
        return Err(CaptureError::Missing {
            dir: dir.to_path_buf(),
            missing,
            unrecognised,
        });
    }
    Ok(all
        .into_iter()
        .zip(found)
        .filter_map(|(role, f)| {
            f.map(|(name, media_type)| UploadFile {
                role,
                path: dir.join(name),
                media_type: media_type.to_owned(),
            })
        })
        .collect())
}

/// Lists `dir` and [`recognise`]s its regular files (symbolic links are
/// followed).
///
/// # Errors
///
/// [`CaptureError::Read`], or those of [`recognise`].
pub fn scan(dir: &Path) -> Result<Vec<UploadFile>, CaptureError> {
    let read_err = |source| CaptureError::Read {
        dir: dir.to_path_buf(),
        source,
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    recognise(dir, &names)
}

/// The upload of one named file: its media type from its extension (as
/// [`CaptureRole::from_file_name`] would judge `ROLE.EXT`). The file must
/// exist.
///
/// # Errors
///
/// [`CaptureError::NotAFile`] or [`CaptureError::UnknownExtension`].
pub fn named_file(role: CaptureRole, path: &Path) -> Result<UploadFile, CaptureError> {
    if !path.is_file() {
        return Err(CaptureError::NotAFile {
            path: path.to_path_buf(),
            role: role_name(role),
        });
    }
    let unknown = || CaptureError::UnknownExtension {
        path: path.to_path_buf(),
        role: role_name(role),
        allowed: allowed_extensions(role),
    };
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .ok_or_else(unknown)?;
    let canonical = format!("{}.{ext}", role_name(role));
    match CaptureRole::from_file_name(&canonical) {
        Some((r, media_type)) if r == role => Ok(UploadFile {
            role,
            path: path.to_path_buf(),
            media_type: media_type.to_owned(),
        }),
        _ => Err(unknown()),
    }
}

/// Parses the role of `ROLE=FILE` for `--image` (`video` false) or
/// `--video` (`video` true).
///
/// # Errors
///
/// [`CaptureError::BadRoleArg`].
pub fn parse_role_arg(given: &str, video: bool) -> Result<(CaptureRole, PathBuf), CaptureError> {
    let roles = if video {
        VideoRole::ALL
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
    } else {
        ImageRole::ALL
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
    };
    let bad = || CaptureError::BadRoleArg {
        given: given.to_owned(),
        roles: roles.join(", "),
    };
    let (role, file) = given.split_once('=').ok_or_else(bad)?;
    if file.is_empty() {
        return Err(bad());
    }
    let role = if video {
        CaptureRole::Video(VideoRole::parse(role).map_err(|_| bad())?)
    } else {
        CaptureRole::Image(ImageRole::parse(role).map_err(|_| bad())?)
    };
    Ok((role, PathBuf::from(file)))
}

/// The uploads for files named one by one: the report first, then the
/// images and videos in the order given. Each role at most once.
///
/// # Errors
///
/// [`CaptureError::NoReport`], [`CaptureError::RepeatedRole`], or those of
/// [`named_file`].
pub fn named_files(
    report: Option<&Path>,
    others: &[(CaptureRole, PathBuf)],
) -> Result<Vec<UploadFile>, CaptureError> {
    let report = report.ok_or(CaptureError::NoReport)?;
    let mut out = vec![named_file(CaptureRole::Report, report)?];
    for (role, path) in others {
        if out.iter().any(|f| f.role == *role) {
            return Err(CaptureError::RepeatedRole {
                role: role_name(*role),
            });
        }
        out.push(named_file(*role, path)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    const FULL: &[&str] = &[
        "report.pdf",
        "face-up.jpg",
        "table.JPG",
        "Pavilion.png",
        "side.webp",
        "girdle.tiff",
        "swatch.jpeg",
        "light-play.mov",
    ];

    #[test]
    fn a_full_capture_is_recognised_in_role_order() {
        let mut given = names(FULL);
        given.extend(names(&[".DS_Store", "notes.txt", "stone.json"]));
        let files = recognise(Path::new("cap"), &given).expect("complete");
        let roles: Vec<CaptureRole> = files.iter().map(|f| f.role).collect();
        assert_eq!(roles, CaptureRole::all());
        let media: Vec<&str> = files.iter().map(|f| f.media_type.as_str()).collect();
        assert_eq!(
            media,
            [
                "application/pdf",
                "image/jpeg",
                "image/jpeg",
                "image/png",
                "image/webp",
                "image/tiff",
                "image/jpeg",
                "video/quicktime"
            ]
        );
        assert_eq!(files[3].path, Path::new("cap/Pavilion.png"));
    }

    #[test]
    fn every_missing_role_is_named() {
        let table: &[(&[&str], &[&str])] = &[
            (
                &["report.pdf"],
                &[
                    "face-up",
                    "table",
                    "pavilion",
                    "side",
                    "girdle",
                    "swatch",
                    "light-play",
                ],
            ),
            (&FULL[1..], &["report (report.pdf)"]),
            (&FULL[..7], &["light-play"]),
            (&[], &["report", "face-up", "light-play"]),
        ];
        for (given, want) in table {
            let err = recognise(Path::new("cap"), &names(given)).expect_err("incomplete");
            let msg = err.to_string();
            for w in *want {
                assert!(msg.contains(w), "{msg:?} should name {w}");
            }
            assert!(msg.starts_with("capture folder cap is missing "), "{msg}");
        }
        // Present roles are not named as missing.
        let msg = recognise(Path::new("cap"), &names(&FULL[..7]))
            .expect_err("no video")
            .to_string();
        assert!(!msg.contains("face-up"), "{msg}");
    }

    #[test]
    fn near_misses_are_listed_as_not_recognised() {
        let mut given = names(FULL);
        given.retain(|n| n != "face-up.jpg");
        given.push("faceup.jpg".into());
        given.push("face-up.gif".into());
        let msg = recognise(Path::new("cap"), &given)
            .expect_err("face-up missing")
            .to_string();
        assert!(msg.contains("missing face-up"), "{msg}");
        assert!(
            msg.contains("not recognised: face-up.gif, faceup.jpg"),
            "{msg}"
        );
    }

    #[test]
    fn two_files_for_one_role_are_refused() {
        let mut given = names(FULL);
        given.push("FACE-UP.png".into());
        let err = recognise(Path::new("cap"), &given).expect_err("duplicate");
        assert!(
            matches!(
                &err,
                CaptureError::Duplicate {
                    role: "face-up",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn scan_reads_a_written_sample() {
        let tmp = tempfile::tempdir().expect("tempdir");
        crate::sample::write_sample_capture(tmp.path(), 0).expect("sample");
        std::fs::create_dir(tmp.path().join("report.pdf.d")).expect("subdir ignored");
        let files = scan(tmp.path()).expect("complete");
        assert_eq!(files.len(), 8);
        std::fs::remove_file(tmp.path().join("swatch.png")).expect("rm");
        let msg = scan(tmp.path()).expect_err("swatch missing").to_string();
        assert!(msg.contains("missing swatch"), "{msg}");
        let missing_dir = tmp.path().join("nope");
        assert!(matches!(scan(&missing_dir), Err(CaptureError::Read { .. })));
    }

    #[test]
    fn role_args_and_named_files() {
        assert_eq!(
            parse_role_arg("face-up=a/b.jpg", false).expect("ok"),
            (
                CaptureRole::Image(ImageRole::FaceUp),
                PathBuf::from("a/b.jpg")
            )
        );
        assert!(parse_role_arg("light-play=v.mp4", true).is_ok());
        for bad in [
            "face-up",
            "face-up=",
            "faceup=a.jpg",
            "=a.jpg",
            "light-play=v.mp4",
        ] {
            assert!(parse_role_arg(bad, false).is_err(), "{bad}");
        }
        let tmp = tempfile::tempdir().expect("tempdir");
        let cap = crate::sample::write_sample_capture(tmp.path(), 0).expect("sample");
        let report = cap.dir.join("report.pdf");
        let face = cap.dir.join("face-up.png");
        let files = named_files(
            Some(&report),
            &[(CaptureRole::Image(ImageRole::FaceUp), face.clone())],
        )
        .expect("ok");
        assert_eq!(files[1].media_type, "image/png");
        assert!(matches!(
            named_files(None, &[]),
            Err(CaptureError::NoReport)
        ));
        assert!(matches!(
            named_files(
                Some(&report),
                &[
                    (CaptureRole::Image(ImageRole::FaceUp), face.clone()),
                    (CaptureRole::Image(ImageRole::FaceUp), face.clone())
                ]
            ),
            Err(CaptureError::RepeatedRole { role: "face-up" })
        ));
        // A PDF as a photo, a photo as the report: refused by extension.
        assert!(matches!(
            named_file(CaptureRole::Image(ImageRole::Table), &report),
            Err(CaptureError::UnknownExtension { .. })
        ));
        assert!(matches!(
            named_file(CaptureRole::Report, &face),
            Err(CaptureError::UnknownExtension { .. })
        ));
        assert!(matches!(
            named_file(CaptureRole::Report, &tmp.path().join("none.pdf")),
            Err(CaptureError::NotAFile { .. })
        ));
    }
}
