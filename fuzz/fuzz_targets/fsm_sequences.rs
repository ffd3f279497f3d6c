//! Arbitrary sequences of commands, transfer reports, network changes, time
//! jumps, (un)synced writes and kills into the state machine, checked
//! against DESIGN.md invariants 1–7 after every step by the property
//! suite's `World`, plus report, event and determinism checks
//! (`bgupload_fuzz::fsm_sequences`).
#![no_main]

use bgupload_fuzz::fsm_sequences::{Scenario, run};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|scenario: Scenario| run(&scenario));
