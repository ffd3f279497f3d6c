//! Any text, and JSON objects of known fields with values of random types,
//! into the FFI layer's JSON decoders (payload, configuration, options,
//! event and upload ids, file URLs): never a panic, short errors, decoded
//! values kept as given (`bgupload_fuzz::ffi_json`).
#![no_main]

use bgupload_fuzz::ffi_json::{FfiJsonCase, run};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|case: FfiJsonCase| run(&case));
