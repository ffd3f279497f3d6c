//! Built only with `--features canary`, which makes the driver release
//! events before their batch is durable. The simulator must catch it.
//!
//! `cargo test -p bgupload-sim --features canary --test canary`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a test or bench: failing loudly is the point

use bgupload_sim::run_seed;

const SEEDS: u64 = 1_000;

#[test]
fn the_simulator_catches_delivery_before_durability() {
    let caught = (0..SEEDS).find(|seed| !run_seed(*seed, None).passed());
    let seed = caught.expect("no seed in 1,000 caught the canary");
    let report = run_seed(seed, None);
    eprintln!("caught at BGUPLOAD_SEED={seed}: {:?}", report.violations);
    assert!(
        report
            .violations
            .iter()
            .any(|violation| violation.contains("before it was durable")),
        "caught for the right reason: {:?}",
        report.violations
    );
}
