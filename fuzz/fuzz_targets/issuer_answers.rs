//! The verifier's strict parsers of the issuer's JSON answers
//! (`loupe_verifier::answers`): `StatusAnswer::parse` and
//! `ConsistencyAnswer::parse`, both on every input. Never panics, and:
//!
//! - the gate is what independent calls say it is: over the limit is
//!   `TooLarge`, else bytes that are not UTF-8 are `NotUtf8` at the offset
//!   `std::str::from_utf8` reports, else what `serde_json` refuses is
//!   `Syntax`, else what `check_unique_keys` calls a duplicate is
//!   `DuplicateKey` naming the same member; so an accepted answer is
//!   within its limit, UTF-8, JSON to `serde_json` and free of repeated
//!   members;
//! - an accepted answer printed (`serde_json`) is the input's JSON value
//!   reduced to the documented members (base64 and `tlog-proof` text are
//!   canonical, so strings come back verbatim), parses back equal, and
//!   prints again to the same bytes; with its first member repeated it is
//!   refused, naming that member;
//! - an accepted status agrees with its entries (`revoked` when there is a
//!   revocation, else `superseded` when there is a newer token, else
//!   `active`), and each entry's id is the SHA-256 of its statement and
//!   its index its proof's; an accepted consistency answer has
//!   `old <= new` and at most `MAX_PATH` hashes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loupe_schemas::json::{StrictJsonError, check_unique_keys};
use loupe_schemas::token::TokenId;
use loupe_verifier::answers::{
    AnswerError, ConsistencyAnswer, EndedBy, EndingAnswer, StatusAnswer, TokenStatus,
};
use serde_json::{Map, Value};

/// The documented members of a status answer and of an entry.
const STATUS_MEMBERS: [&str; 5] = [
    "token_id",
    "status",
    "leaf_index",
    "revoked_by",
    "superseded_by",
];
const ENDING_MEMBERS: [&str; 5] = ["id", "leaf_index", "reason", "statement", "proof"];
const CONSISTENCY_MEMBERS: [&str; 3] = ["old", "new", "path"];

fuzz_target!(|data: &[u8]| {
    let status = StatusAnswer::parse(data);
    check_gate(data, StatusAnswer::MAX_LEN, status.as_ref().err());
    let consistency = ConsistencyAnswer::parse(data);
    check_gate(data, ConsistencyAnswer::MAX_LEN, consistency.as_ref().err());

    if let Ok(answer) = status {
        check_status(&answer);
        let want = reduce(data, &STATUS_MEMBERS, |top| {
            for key in ["revoked_by", "superseded_by"] {
                let entry = top.entry(key).or_insert(Value::Null);
                if let Value::Object(e) = entry {
                    e.retain(|k, _| ENDING_MEMBERS.contains(&k.as_str()));
                    if e.get("reason") == Some(&Value::Null) {
                        e.remove("reason");
                    }
                }
            }
        });
        round_trip(
            &answer,
            |a| serde_json::to_vec(a).expect("an answer prints"),
            want,
            StatusAnswer::MAX_LEN,
            StatusAnswer::parse,
        );
    }
    if let Ok(answer) = consistency {
        assert!(answer.old_size() <= answer.new_size());
        assert!(answer.path().len() <= ConsistencyAnswer::MAX_PATH);
        let want = reduce(data, &CONSISTENCY_MEMBERS, |_| {});
        round_trip(
            &answer,
            |a| serde_json::to_vec(a).expect("an answer prints"),
            want,
            ConsistencyAnswer::MAX_LEN,
            ConsistencyAnswer::parse,
        );
    }
});

/// The first four steps of both parsers, against independent calls.
fn check_gate(data: &[u8], max: usize, error: Option<&AnswerError>) {
    let expected = if data.len() > max {
        Some(AnswerError::TooLarge {
            len: data.len(),
            max,
        })
    } else if let Err(e) = std::str::from_utf8(data) {
        Some(AnswerError::NotUtf8 {
            offset: e.valid_up_to(),
        })
    } else if serde_json::from_slice::<Value>(data).is_err() {
        // The message is serde_json's; only the kind is compared.
        assert!(
            matches!(error, Some(AnswerError::Syntax(_))),
            "serde_json refuses it, the parser says {error:?}"
        );
        return;
    } else {
        match check_unique_keys(data) {
            Ok(()) => None,
            Err(StrictJsonError::DuplicateKey(key)) => Some(AnswerError::DuplicateKey(key)),
            Err(other) => panic!("check_unique_keys refuses what serde_json reads: {other}"),
        }
    };
    match expected {
        Some(want) => assert_eq!(error, Some(&want)),
        // Past the gate: refused only for the answer's own reasons.
        None => assert!(
            !matches!(
                error,
                Some(
                    AnswerError::TooLarge { .. }
                        | AnswerError::NotUtf8 { .. }
                        | AnswerError::Syntax(_)
                        | AnswerError::DuplicateKey(_)
                )
            ),
            "a clean document refused at the gate: {error:?}"
        ),
    }
}

/// The input's JSON value with only `members` at the top (`edit` then
/// normalises what the printer writes differently but means the same).
fn reduce(data: &[u8], members: &[&str], edit: impl FnOnce(&mut Map<String, Value>)) -> Value {
    let Ok(Value::Object(mut top)) = serde_json::from_slice::<Value>(data) else {
        panic!("an accepted answer is a JSON object");
    };
    top.retain(|k, _| members.contains(&k.as_str()));
    edit(&mut top);
    Value::Object(top)
}

/// Printed, the answer is `want`; it parses back equal, prints again the
/// same, and is refused with its first member repeated.
fn round_trip<T: PartialEq + std::fmt::Debug>(
    answer: &T,
    print: fn(&T) -> Vec<u8>,
    want: Value,
    max: usize,
    parse: fn(&[u8]) -> Result<T, AnswerError>,
) {
    let printed = print(answer);
    let value: Value = serde_json::from_slice(&printed).expect("printed JSON reads back");
    assert_eq!(value, want, "printed is the input reduced to its members");
    let again = parse(&printed).unwrap_or_else(|e| panic!("printed answer refused: {e}"));
    assert_eq!(&again, answer, "printed answer parses back equal");
    assert_eq!(print(&again), printed, "printing is a fixed point");
    let Value::Object(members) = &value else {
        panic!("an answer prints as an object");
    };
    if let Some((key, v)) = members.iter().next() {
        let mut doubled = printed.clone();
        doubled.pop();
        doubled.push(b',');
        doubled.extend(serde_json::to_vec(key).expect("prints"));
        doubled.push(b':');
        doubled.extend(serde_json::to_vec(v).expect("prints"));
        doubled.push(b'}');
        if doubled.len() <= max {
            assert_eq!(
                parse(&doubled).err(),
                Some(AnswerError::DuplicateKey(key.clone()))
            );
        }
    }
}

/// The status and the entries agree; each entry is consistent.
fn check_status(answer: &StatusAnswer) {
    let implied = match (answer.revoked_by(), answer.superseded_by()) {
        (Some(_), _) => TokenStatus::Revoked,
        (None, Some(_)) => TokenStatus::Superseded,
        (None, None) => TokenStatus::Active,
    };
    assert_eq!(answer.status(), implied);
    match (answer.status(), answer.ended_by()) {
        (TokenStatus::Active, None) => {}
        (TokenStatus::Revoked, Some(EndedBy::Revoked(e))) => {
            assert_eq!(Some(e), answer.revoked_by());
        }
        (TokenStatus::Superseded, Some(EndedBy::Superseded(e))) => {
            assert_eq!(Some(e), answer.superseded_by());
        }
        (s, e) => panic!("status {s} decided by {e:?}"),
    }
    for entry in [answer.revoked_by(), answer.superseded_by()]
        .into_iter()
        .flatten()
    {
        check_entry(entry);
    }
    assert_eq!(
        StatusAnswer::new(
            answer.token_id(),
            answer.leaf_index(),
            answer.revoked_by().cloned(),
            answer.superseded_by().cloned(),
        ),
        *answer,
        "the constructor rebuilds it"
    );
}

fn check_entry(entry: &EndingAnswer) {
    assert_eq!(entry.id(), TokenId::of_logged_bytes(entry.statement()));
    assert_eq!(entry.leaf_index(), entry.proof().index());
    let text = entry.proof().to_text();
    assert_eq!(
        loupe_schemas::bundle::ProofBundle::parse(text.as_bytes()).as_ref(),
        Ok(entry.proof()),
        "the proof's text parses back equal"
    );
    assert_eq!(
        EndingAnswer::new(
            entry.statement().to_vec(),
            entry.reason().map(str::to_owned),
            entry.proof().clone(),
        ),
        *entry,
        "the constructor rebuilds it"
    );
}
