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
    dispatch(target, bytes, Action::Show).unwrap_or_default()
}

/// Runs one input through `target`'s checks, as its fuzz target does.
/// Inputs that do not decode are ignored, as libFuzzer's harness ignores
/// them.
pub fn run_target(target: &str, bytes: &[u8]) {
    dispatch(target, bytes, Action::Run);
}

#[derive(Clone, Copy)]
enum Action {
    Run,
    Show,
}

/// Each target's input type and checks, named once.
fn dispatch(target: &str, bytes: &[u8], action: Action) -> Option<String> {
    match target {
        "fsm_sequences" => with_input(bytes, action, fsm_sequences::run),
        "record_decode" => with_input(bytes, action, record_decode::run),
        "multipart_roundtrip" => with_input(bytes, action, multipart_roundtrip::run),
        "ffi_json" => with_input(bytes, action, ffi_json::run),
        other => panic!("no fuzz target {other}"),
    }
}

fn with_input<'a, T: arbitrary::Arbitrary<'a> + std::fmt::Debug>(
    bytes: &'a [u8],
    action: Action,
    run: fn(&T),
) -> Option<String> {
    let decoded = seed::decode::<T>(bytes);
    match action {
        Action::Run => {
            if let Ok(input) = &decoded {
                run(input);
            }
            None
        }
        Action::Show => Some(match decoded {
            Ok(input) => format!("{input:#?}"),
            Err(error) => format!("does not decode: {error}"),
        }),
    }
}
