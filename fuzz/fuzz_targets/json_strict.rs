//! `json::check_unique_keys` (the strict JSON gate of the issuer's and the
//! verifier's APIs) on arbitrary bytes. Never panics; it calls exactly the
//! documents `serde_json` refuses malformed; a document printed from a
//! `serde_json::Value` (whose objects cannot repeat a member) always
//! passes; a passing object with a member appended again under the same
//! name is refused, naming that member.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loupe_schemas::json::{StrictJsonError, check_unique_keys};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let checked = check_unique_keys(data);
    let value = serde_json::from_slice::<Value>(data);
    match (&checked, &value) {
        (Err(StrictJsonError::Syntax(_)), Err(_)) => return,
        (Err(StrictJsonError::Syntax(e)), Ok(_)) => panic!("valid JSON called malformed: {e}"),
        (_, Err(e)) => panic!("malformed JSON ({e}) not called malformed: {checked:?}"),
        (Ok(()) | Err(StrictJsonError::DuplicateKey(_)), Ok(_)) => {}
        (Err(other), Ok(_)) => panic!("an error of a new kind: {other}"),
    }
    let Ok(value) = value else { return };
    let printed = serde_json::to_vec(&value).expect("a Value prints");
    assert_eq!(
        check_unique_keys(&printed),
        Ok(()),
        "a printed Value has no duplicates"
    );
    if checked.is_ok()
        && let Value::Object(map) = &value
        && let Some((k, v)) = map.iter().next()
    {
        // Append the first member again: now it is named twice.
        let mut doubled = printed.clone();
        doubled.pop(); // the closing brace
        doubled.push(b',');
        doubled.extend(serde_json::to_vec(k).expect("a key prints"));
        doubled.push(b':');
        doubled.extend(serde_json::to_vec(v).expect("a value prints"));
        doubled.push(b'}');
        assert_eq!(
            check_unique_keys(&doubled),
            Err(StrictJsonError::DuplicateKey(k.clone()))
        );
    }
});
