//! The simulator in CI: 1,000 seeds (split across tests so they run in
//! parallel), a determinism check, and replay of one seed with
//! `BGUPLOAD_SEED=<n>`. `BGUPLOAD_SIM_SEEDS` changes the count per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a test or bench: failing loudly is the point

use bgupload_sim::{Mode, run_seed};

const DEFAULT_SEEDS_PER_TEST: u64 = 250;

fn seeds_per_test() -> u64 {
    std::env::var("BGUPLOAD_SIM_SEEDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(DEFAULT_SEEDS_PER_TEST)
}

/// Runs seeds `first..first+count` (or only `BGUPLOAD_SEED`), printing every
/// failing seed in the form that replays it.
fn run_range(first: u64, mode: Option<Mode>) {
    let replay = std::env::var("BGUPLOAD_SEED")
        .ok()
        .and_then(|text| text.parse::<u64>().ok());
    let seeds: Vec<u64> = match replay {
        Some(seed) => vec![seed],
        None => (first..first + seeds_per_test()).collect(),
    };
    let mut failures = Vec::new();
    let (mut kills, mut uploads) = (0, 0);
    for seed in seeds.iter().copied() {
        let report = run_seed(seed, mode);
        kills += report.kills;
        uploads += report.uploads_accepted;
        if !report.passed() {
            eprintln!(
                "BGUPLOAD_SEED={seed} failed ({:?}): {}",
                report.mode, report.faults
            );
            for violation in &report.violations {
                eprintln!("  {violation}");
            }
            failures.push(seed);
        }
    }
    eprintln!(
        "{} seeds from {first}: {uploads} uploads, {kills} kills, {} failed",
        seeds.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "failing seeds (replay with BGUPLOAD_SEED=<n>): {failures:?}"
    );
    if replay.is_none() {
        assert!(
            kills >= 5 * seeds.len() as u64,
            "each seed kills the app at least 5 times"
        );
    }
}

#[test]
fn seeds_engine_owned_0() {
    run_range(0, Some(Mode::Engine));
}

#[test]
fn seeds_engine_owned_1() {
    run_range(1_000_000, Some(Mode::Engine));
}

#[test]
fn seeds_os_owned_0() {
    run_range(2_000_000, Some(Mode::Os));
}

#[test]
fn seeds_mixed_0() {
    run_range(3_000_000, None);
}

#[test]
fn same_seed_same_run() {
    for seed in [7, 8, 9, 10, 11, 12, 13, 14] {
        let first = run_seed(seed, None);
        let second = run_seed(seed, None);
        assert_eq!(first, second, "seed {seed} is not deterministic");
        assert!(first.events_consumed > 0, "seed {seed} did something");
    }
}
