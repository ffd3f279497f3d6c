//! The checks behind bgupload's `cargo fuzz` targets, one module per target
//! (the files in `fuzz_targets/` only hand libFuzzer's input to them), and
//! the seed corpus written as Rust values ([`corpus`]).
//!
//! Kept in a library so that `cargo test` here replays the committed corpus
//! and every saved crash through the same checks, without libFuzzer.

pub mod corpus;
pub mod ffi_json;
pub mod fsm_sequences;
pub mod multipart_roundtrip;
pub mod record_decode;
pub mod seed;

/// The property suite's test world, included as is so the invariant
/// checker is defined once.
#[path = "../../fsm/tests/support/mod.rs"]
pub mod support;

/// The fuzz targets, by name.
pub const TARGETS: [&str; 4] = [
    "fsm_sequences",
    "record_decode",
    "multipart_roundtrip",
    "ffi_json",
];

/// The input as `target` decodes it, for reading a crash.
pub fn show_input(target: &str, bytes: &[u8]) -> String {
    let shown = match target {
        "fsm_sequences" => {
            seed::decode::<fsm_sequences::Scenario>(bytes).map(|v| format!("{v:#?}"))
        }
        "record_decode" => {
            seed::decode::<record_decode::StoreImage>(bytes).map(|v| format!("{v:#?}"))
        }
        "multipart_roundtrip" => {
            seed::decode::<multipart_roundtrip::MultipartCase>(bytes).map(|v| format!("{v:#?}"))
        }
        "ffi_json" => seed::decode::<ffi_json::FfiJsonCase>(bytes).map(|v| format!("{v:#?}")),
        other => panic!("no fuzz target {other}"),
    };
    shown.unwrap_or_else(|error| format!("does not decode: {error}"))
}

/// Runs one input through `target`'s checks, as its fuzz target does.
/// Inputs that do not decode are ignored, as libFuzzer's harness ignores
/// them.
pub fn run_target(target: &str, bytes: &[u8]) {
    match target {
        "fsm_sequences" => {
            if let Ok(scenario) = seed::decode::<fsm_sequences::Scenario>(bytes) {
                fsm_sequences::run(&scenario);
            }
        }
        "record_decode" => {
            if let Ok(image) = seed::decode::<record_decode::StoreImage>(bytes) {
                record_decode::run(&image);
            }
        }
        "multipart_roundtrip" => {
            if let Ok(case) = seed::decode::<multipart_roundtrip::MultipartCase>(bytes) {
                multipart_roundtrip::run(&case);
            }
        }
        "ffi_json" => {
            if let Ok(case) = seed::decode::<ffi_json::FfiJsonCase>(bytes) {
                ffi_json::run(&case);
            }
        }
        other => panic!("no fuzz target {other}"),
    }
}
