//! The fuzz corpus as a regression test on stable: every saved input of the
//! `frame_decoder` target (golden recordings, hand-made edge frames, and anything the fuzzer
//! found) goes through the same checks the target runs.

#[path = "../fuzz/src/lib.rs"]
mod frame_check;

use std::path::Path;

#[test]
fn every_saved_fuzz_input_passes_the_frame_decoder_checks() {
    // No input panics either decoder, both agree, and decoded frames survive a re-encode.
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/frame_decoder");
    let mut checked = 0;
    for entry in std::fs::read_dir(&corpus).expect("the corpus directory") {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| frame_check::check_frame(&data));
        assert!(outcome.is_ok(), "{} fails the checks", path.display());
        checked += 1;
    }
    // The golden recordings alone are 20; an empty or moved corpus must not pass quietly.
    assert!(
        checked >= 20,
        "only {checked} inputs in {}",
        corpus.display()
    );
}

#[test]
fn edge_frames_decode_as_expected() {
    // A few seeds pin the outcome, not just the absence of panics.
    use ramjet_net::remoting::{decode_frame, FRAME_BYTES_MAX_DEFAULT};
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/frame_decoder");
    let decode = |name: &str| {
        let data = std::fs::read(corpus.join(name)).unwrap();
        decode_frame(&data, FRAME_BYTES_MAX_DEFAULT).map(|frame| frame.map(|(c, _)| c))
    };
    assert_eq!(decode("edge_empty"), Ok(None));
    assert_eq!(decode("edge_prefix_only"), Ok(None));
    assert!(decode("edge_length_too_long").is_err());
    assert!(decode("edge_header_past_frame").is_err());
    assert!(decode("edge_serialize_type_7").is_err());
    assert!(decode("edge_json_not_json").is_err());
    assert!(decode("edge_binary_trailing_bytes").is_err());
    let scalars = decode("edge_json_scalar_ext_values").unwrap().unwrap();
    assert_eq!(scalars.ext_field("queueId"), Some("3"));
    assert_eq!(scalars.ext_field("n"), None);
    let binary = decode("edge_binary_with_remark_and_ext").unwrap().unwrap();
    assert_eq!(binary.ext_field("topic"), Some("TopicTest"));
    assert_eq!(&binary.body[..], b"xyz");
    // Entries with an empty key or value are Java nulls and are dropped, leaving a map.
    let empty_entries = decode("edge_binary_empty_ext_entries").unwrap().unwrap();
    assert_eq!(empty_entries.ext_fields.map(|fields| fields.len()), Some(0));
}
