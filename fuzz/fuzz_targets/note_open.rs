//! `open_note` with a fixed set of verifiers (the fixture log and witness,
//! and the public vector keys), and `Checkpoint::parse` on the input and on
//! the opened note text. Never panics; an opened note's text is a prefix of
//! the input ending in a newline, its verified signatures belong to
//! configured keys and its signature lines appear verbatim in the input; a
//! parsed checkpoint body re-serializes to exactly the text it came from.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use loupe_schemas::checkpoint::{Checkpoint, NoteVerifier, open_note};

static VERIFIERS: LazyLock<Vec<NoteVerifier>> = LazyLock::new(loupe_fuzz::note_verifiers);

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A body that parses re-serializes to itself and rebuilds equal.
fn body_round_trip(text: &str) {
    let Ok(checkpoint) = Checkpoint::parse(text) else {
        return;
    };
    let body = checkpoint.to_body();
    assert_eq!(body, text, "to_body() is not the parsed text");
    assert_eq!(Checkpoint::parse(&body).as_ref(), Ok(&checkpoint));
    let rebuilt = Checkpoint::new(
        checkpoint.origin(),
        checkpoint.size(),
        *checkpoint.root_hash(),
        checkpoint.extensions().to_vec(),
    );
    assert_eq!(
        rebuilt,
        Ok(checkpoint),
        "Checkpoint::new refuses a parsed body"
    );
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        body_round_trip(text);
    }
    let Ok(note) = open_note(data, &VERIFIERS) else {
        return;
    };
    let text = note.text();
    assert!(text.ends_with('\n'));
    assert!(
        data.starts_with(text.as_bytes()),
        "note text is not a prefix"
    );
    assert_eq!(
        data.get(text.len()),
        Some(&b'\n'),
        "no blank line after the text"
    );
    assert!(!note.signatures().is_empty());
    for s in note.signatures() {
        assert!(
            VERIFIERS
                .iter()
                .any(|v| v.name() == s.name() && v.key_id() == s.key_id()),
            "signature by an unconfigured key counted as verified"
        );
        assert!(contains(data, s.line().to_line().as_bytes()));
    }
    for line in note.unverified_signatures() {
        assert!(
            !VERIFIERS
                .iter()
                .any(|v| v.name() == line.name() && v.key_id() == line.key_id()),
            "signature by a configured key left unverified"
        );
        assert!(contains(data, line.to_line().as_bytes()));
    }
    body_round_trip(text);
});
