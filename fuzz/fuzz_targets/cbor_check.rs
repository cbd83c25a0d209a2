//! `cbor::check`, `cbor::decode` and `cbor::encode` agree on arbitrary
//! bytes: `check` passes exactly when `decode` does (with the same error
//! otherwise, since `decode` checks first), and then `encode(decode(x))`
//! is `x`. An accepted item loses its acceptance when its last byte is cut
//! or a byte is appended.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loupe_schemas::cbor;

fuzz_target!(|data: &[u8]| {
    let checked = cbor::check(data);
    let decoded = cbor::decode(data);
    match (&checked, &decoded) {
        (Ok(()), Ok(value)) => {
            assert_eq!(cbor::encode(value), data, "encode(decode(x)) != x");
        }
        (Ok(()), Err(e)) => panic!("check accepts, decode rejects: {e:?}"),
        (Err(e), Ok(_)) => panic!("decode accepts, check rejects: {e:?}"),
        (Err(c), Err(d)) => assert_eq!(c, d, "decode reports another error than check"),
    }
    if checked.is_ok() {
        let (_, prefix) = data.split_last().expect("an accepted item is not empty");
        assert!(cbor::check(prefix).is_err(), "a strict prefix passes check");
        let mut longer = data.to_vec();
        longer.push(0);
        assert!(cbor::check(&longer).is_err(), "trailing byte passes check");
    }
});
