//! Unit tests of batch row parsing: good rows, bad rows with their line
//! numbers, headers, repeats.

use std::path::Path;

use loupe_schemas::token::{ImageRole, TokenId, VideoRole};

use super::*;

const HEADER: &str = "report_number,variety,species,weight_ct,colour,shape,cut,clarity,dimensions_mm,treatment,origin,capture";

fn stone_cells(rn: &str) -> String {
    format!("{rn},Ruby,Corundum,1.52,red,oval,mixed,VS,7.10x5.60x3.40,none")
}

#[test]
fn csv_rows_parse_with_paths_relative_to_the_file() {
    let text = format!(
        "{HEADER}\n{},Myanmar,caps/LX-1\n{},,caps/LX-2\n",
        stone_cells("LX-1"),
        stone_cells("LX-2")
    );
    let parsed = parse_csv(&text, Path::new("/data")).expect("header ok");
    assert_eq!(parsed.errors, vec![]);
    assert_eq!(parsed.rows.len(), 2);
    let first = &parsed.rows[0];
    assert_eq!(first.line, 2);
    assert_eq!(first.claims.report_number, "LX-1");
    assert_eq!(first.claims.stone.weight_mct, 1520);
    assert_eq!(first.claims.stone.dimensions_um, [7100, 5600, 3400]);
    assert_eq!(first.claims.stone.origin.as_deref(), Some("Myanmar"));
    assert_eq!(first.files, RowFiles::Capture("/data/caps/LX-1".into()));
    assert_eq!(parsed.rows[1].line, 3);
    assert_eq!(
        parsed.rows[1].claims.stone.origin, None,
        "empty origin is none"
    );
}

#[test]
fn csv_file_columns_quoting_and_any_column_order() {
    let id = TokenId([5; 32]);
    let text = format!(
        "Light-Play,report,face-up,treatment,dimensions_mm,clarity,cut,shape,colour,weight_ct,species,variety,REPORT_NUMBER,supersedes\n\
         v/1.mp4,r/1.pdf,\"p/1, face.jpg\",\"heated, minor\",7x6x5,VS,mixed,oval,red,2,Corundum,Sapphire,\"LX \"\"1\"\"\",{id}\n"
    );
    let parsed = parse_csv(&text, Path::new("b")).expect("ok");
    assert_eq!(parsed.errors, vec![]);
    let row = &parsed.rows[0];
    assert_eq!(row.claims.report_number, "LX \"1\"");
    assert_eq!(row.claims.stone.treatment, "heated, minor");
    assert_eq!(row.claims.supersedes, Some(id));
    assert_eq!(
        row.files,
        RowFiles::Files(vec![
            (CaptureRole::Report, "b/r/1.pdf".into()),
            (
                CaptureRole::Image(ImageRole::FaceUp),
                "b/p/1, face.jpg".into()
            ),
            (CaptureRole::Video(VideoRole::LightPlay), "b/v/1.mp4".into()),
        ]),
        "report first, then capture order"
    );
}

#[test]
fn bad_csv_rows_are_reported_with_their_line_and_skipped() {
    let good = |rn: &str| format!("{},,caps/{rn}", stone_cells(rn));
    let rows = [
        good("LX-1"),                                                             // line 2
        "LX-2,Ruby,Corundum,1.5205,red,oval,mixed,VS,7x6x5,none,,c".to_owned(),   // 3
        "LX-3,Ruby,Corundum,1.5,red,oval,mixed,VS,7x6,none,,c".to_owned(),        // 4
        ",Ruby,Corundum,1.5,red,oval,mixed,VS,7x6x5,none,,c".to_owned(),          // 5
        format!("{},,", stone_cells("LX-6")),                                     // 6: no files
        String::new(), // 7: blank, skipped
        good("LX-1"),  // 8: repeat
        "LX-9,Ruby,Corundum,1.5,red\u{7},oval,mixed,VS,7x6x5,none,,c".to_owned(), // 9
        good("LX-10"), // 10
    ];
    let text = format!("{HEADER}\n{}\n", rows.join("\n"));
    let parsed = parse_csv(&text, Path::new("")).expect("header ok");
    let good_lines: Vec<u64> = parsed.rows.iter().map(|r| r.line).collect();
    assert_eq!(good_lines, vec![2, 10]);
    let table: &[(u64, &str)] = &[
        (3, "weight_ct: \"1.5205\" is not a weight in carats"),
        (4, "dimensions_mm:"),
        (5, "report_number is empty"),
        (6, "no files"),
        (8, "report number LX-1 repeats line 2"),
        (9, "stone.colour"),
    ];
    assert_eq!(parsed.errors.len(), table.len(), "{:?}", parsed.errors);
    for ((line, want), got) in table.iter().zip(&parsed.errors) {
        assert_eq!(got.line, *line, "{got}");
        assert!(got.message.contains(want), "line {line}: {got}");
        assert!(got.to_string().starts_with(&format!("line {line}: ")));
    }
}

#[test]
fn csv_headers_are_checked_for_the_whole_file() {
    for (text, want) in [
        ("", "required column \"report_number\" is missing"),
        (
            "report_number,variety\nX,Y\n",
            "required column \"species\" is missing",
        ),
        (
            &*format!("{HEADER},colour_hex\n"),
            "unknown column \"colour_hex\"",
        ),
        (
            &*format!("{HEADER},Capture\n"),
            "column \"capture\" appears twice",
        ),
    ] {
        let err = parse_csv(text, Path::new("")).expect_err("bad header");
        assert!(err.starts_with("line 1: "), "{err}");
        assert!(err.contains(want), "{err:?} should contain {want:?}");
    }
    // A byte-order mark from a spreadsheet export is tolerated.
    let text = format!("\u{feff}{HEADER}\n{},,c\n", stone_cells("LX-1"));
    assert_eq!(parse_csv(&text, Path::new("")).expect("bom").rows.len(), 1);
}

#[test]
fn csv_records_with_a_wrong_number_of_cells_are_row_errors() {
    let text = format!(
        "{HEADER}\n{},,c\nLX-2,Ruby\n\"unterminated\n",
        stone_cells("LX-1")
    );
    let parsed = parse_csv(&text, Path::new("")).expect("header ok");
    assert_eq!(parsed.rows.len(), 1);
    assert_eq!(parsed.errors[0].line, 3);
    assert!(
        parsed.errors[0].message.contains("is empty"),
        "{:?}",
        parsed.errors
    );
}

fn stone_json() -> &'static str {
    r#"{"variety":"Ruby","species":"Corundum","weight_mct":1520,"colour":"red","shape":"oval","cut":"mixed","clarity":"VS","dimensions_um":[7100,5600,3400],"treatment":"none"}"#
}

#[test]
fn jsonl_rows_parse_and_bad_ones_name_their_line_and_field() {
    let s = stone_json();
    let lines = [
        format!(r#"{{"report_number":"LX-1","stone":{s},"capture":"caps/LX-1"}}"#), // 1
        String::new(),                                                              // 2
        format!(
            r#"{{"report_number":"LX-3","stone":{s},"files":{{"report":"r.pdf","swatch":"s.png","light-play":"v.mp4"}}}}"#
        ), // 3
        r#"{"report_number":"LX-4","stone":{"variety":"Ruby"},"capture":"c"}"#.to_owned(), // 4
        format!(r#"{{"report_number":"LX-5","stone":{s},"files":{{"front":"f.jpg"}}}}"#), // 5
        format!(r#"{{"report_number":"LX-6","stone":{s},"capture":"c","colour":"x"}}"#), // 6
        "not json".to_owned(),                                                      // 7
        format!(
            r#"{{"report_number":"LX-8","stone":{},"capture":"c"}}"#,
            s.replace("1520", "0")
        ), // 8
        format!(r#"{{"report_number":"LX-1","stone":{s},"capture":"again"}}"#),     // 9
        format!(
            r#"{{"report_number":"LX-10","stone":{s},"capture":"c","files":{{"report":"r.pdf"}}}}"#
        ), // 10
        format!(r#"{{"report_number":"LX-11","stone":{s},"files":{{"table":"t.png"}}}}"#), // 11
        format!(r#"{{"report_number":"LX-12","stone":{s},"supersedes":"xyz","capture":"c"}}"#), // 12
    ];
    let parsed = parse_jsonl(&lines.join("\n"), Path::new("base"));
    let good: Vec<(u64, &str)> = parsed
        .rows
        .iter()
        .map(|r| (r.line, r.claims.report_number.as_str()))
        .collect();
    assert_eq!(good, vec![(1, "LX-1"), (3, "LX-3")]);
    assert_eq!(
        parsed.rows[1].files,
        RowFiles::Files(vec![
            (CaptureRole::Report, "base/r.pdf".into()),
            (CaptureRole::Image(ImageRole::Swatch), "base/s.png".into()),
            (
                CaptureRole::Video(VideoRole::LightPlay),
                "base/v.mp4".into()
            ),
        ])
    );
    let table: &[(u64, &str)] = &[
        (4, "stone: missing field `species`"),
        (5, "unknown role \"front\""),
        (6, "unknown field `colour`"),
        (7, "expected"),
        (8, "stone.weight_mct"),
        (9, "repeats line 1"),
        (10, "either capture or file columns"),
        (11, "report is empty"),
        (12, "supersedes"),
    ];
    assert_eq!(parsed.errors.len(), table.len(), "{:?}", parsed.errors);
    for ((line, want), got) in table.iter().zip(&parsed.errors) {
        assert_eq!(got.line, *line, "{got}");
        assert!(got.message.contains(want), "line {line}: {got}");
        assert!(!got.message.contains('\n'));
    }
}

#[test]
fn batch_files_are_recognised_by_extension() {
    assert_eq!(BatchFormat::of(Path::new("a.CSV")), Some(BatchFormat::Csv));
    assert_eq!(
        BatchFormat::of(Path::new("a.jsonl")),
        Some(BatchFormat::JsonLines)
    );
    assert_eq!(
        BatchFormat::of(Path::new("a.ndjson")),
        Some(BatchFormat::JsonLines)
    );
    assert_eq!(BatchFormat::of(Path::new("a.json")), None);
    assert_eq!(BatchFormat::of(Path::new("csv")), None);
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = tmp.path().join("b.txt");
    std::fs::write(&p, "x").expect("write");
    assert!(matches!(
        parse_batch_file(&p),
        Err(BatchError::Format { .. })
    ));
    let p = tmp.path().join("missing.csv");
    assert!(matches!(parse_batch_file(&p), Err(BatchError::Read { .. })));
    let p = tmp.path().join("b.csv");
    std::fs::write(&p, format!("{HEADER}\n{},,cap\n", stone_cells("LX-1"))).expect("write");
    let parsed = parse_batch_file(&p).expect("parses");
    assert_eq!(
        parsed.rows[0].files,
        RowFiles::Capture(tmp.path().join("cap"))
    );
}
