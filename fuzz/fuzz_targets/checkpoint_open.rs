//! `open_checkpoint` for the fixture log with one fixture witness. Never
//! panics; an opened checkpoint keeps the input verbatim, has the expected
//! origin and only cosignatures by the witness dated no later than now +
//! skew; requiring one witness succeeds exactly when one cosigned; the
//! body round-trips; re-signing by the log and cosigning by the witness
//! give notes that open to the same checkpoint.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use loupe_fuzz::{LOG_ORIGIN, NOW, WITNESS_NAME};
use loupe_schemas::checkpoint::{
    Checkpoint, CosignatureSigner, MAX_COSIGNATURE_CLOCK_SKEW, NoteSigner, NoteVerifier,
    open_checkpoint, sign_checkpoint,
};

static LOG: LazyLock<NoteSigner> = LazyLock::new(loupe_fuzz::log_signer);
static LOG_KEY: LazyLock<NoteVerifier> = LazyLock::new(|| LOG.verifier());
static WITNESS: LazyLock<CosignatureSigner> = LazyLock::new(loupe_fuzz::witness_signer);
static WITNESSES: LazyLock<Vec<NoteVerifier>> = LazyLock::new(|| vec![WITNESS.verifier()]);

fuzz_target!(|data: &[u8]| {
    let Ok(opened) = open_checkpoint(data, LOG_ORIGIN, &LOG_KEY, &WITNESSES, 0, NOW) else {
        return;
    };
    assert_eq!(
        opened.signed_note().as_bytes(),
        data,
        "signed note not kept verbatim"
    );
    assert_eq!(opened.origin(), LOG_ORIGIN);
    assert!(opened.cosignatures().len() <= WITNESSES.len());
    for c in opened.cosignatures() {
        assert_eq!(c.name(), WITNESS_NAME);
        assert_eq!(c.key_id(), WITNESS.key_id());
        assert!(c.timestamp() <= NOW + MAX_COSIGNATURE_CLOCK_SKEW);
    }

    let with_one = open_checkpoint(data, LOG_ORIGIN, &LOG_KEY, &WITNESSES, 1, NOW);
    if opened.cosignatures().is_empty() {
        assert!(
            with_one.is_err(),
            "one witness required, none cosigned, yet it opens"
        );
    } else {
        assert_eq!(with_one.as_ref(), Ok(&opened));
    }

    let checkpoint = opened.checkpoint();
    let body = checkpoint.to_body();
    assert!(
        data.starts_with(format!("{body}\n").as_bytes()),
        "body is not the note text"
    );
    assert_eq!(Checkpoint::parse(&body).as_ref(), Ok(checkpoint));

    let resigned = sign_checkpoint(checkpoint, &LOG).expect("the log re-signs");
    let reopened = open_checkpoint(
        resigned.as_bytes(),
        LOG_ORIGIN,
        &LOG_KEY,
        &WITNESSES,
        0,
        NOW,
    )
    .expect("a re-signed checkpoint opens");
    assert_eq!(reopened.checkpoint(), checkpoint);

    // Cosigning can exceed the note limits (too many lines); then it must
    // say so rather than produce a note that does not open.
    if let Ok(cosigned) = WITNESS.cosign(&opened, NOW) {
        let both = open_checkpoint(
            cosigned.as_bytes(),
            LOG_ORIGIN,
            &LOG_KEY,
            &WITNESSES,
            1,
            NOW,
        )
        .expect("a cosigned checkpoint opens with one witness required");
        assert_eq!(both.checkpoint(), checkpoint);
        assert_eq!(both.cosignatures().len(), 1);
    }
});
