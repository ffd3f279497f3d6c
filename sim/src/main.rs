//! `bgupload-sim`: runs seeds of the deterministic simulation and prints a
//! summary. `BGUPLOAD_SEED=<n>` replays one seed (with its fault rates).
//!
//! ```text
//! cargo run --release -p bgupload-sim -- --seeds 1000 [--seed 42] [--mode engine|os]
//! ```

use bgupload_sim::{Mode, SeedReport, run_seed};
use clap::{Parser, ValueEnum};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ModeArg {
    Engine,
    Os,
    /// Each seed picks.
    Mixed,
}

#[derive(Parser, Debug)]
#[command(about = "Deterministic fault simulation of the bgupload engine")]
struct Args {
    /// How many seeds to run.
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    /// First seed (seeds are consecutive).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Transfer ownership.
    #[arg(long, value_enum, default_value_t = ModeArg::Mixed)]
    mode: ModeArg,
    /// Print one line per seed.
    #[arg(long)]
    verbose: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mode = match args.mode {
        ModeArg::Engine => Some(Mode::Engine),
        ModeArg::Os => Some(Mode::Os),
        ModeArg::Mixed => None,
    };
    let (first, count) = match std::env::var("BGUPLOAD_SEED")
        .ok()
        .and_then(|text| text.parse::<u64>().ok())
    {
        Some(seed) => (seed, 1),
        None => (args.seed, args.seeds),
    };
    let started = Instant::now();
    let mut totals = SeedReport::default();
    let mut failed = Vec::new();
    for seed in first..first.saturating_add(count) {
        let report = run_seed(seed, mode);
        if args.verbose || count == 1 {
            println!(
                "seed {seed} {:?}: {} uploads, {} kills, {} partitions, {} events, {:.1} simulated min | {}",
                report.mode,
                report.uploads_accepted,
                report.kills,
                report.partitions,
                report.events_consumed,
                report.simulated_millis as f64 / 60_000.0,
                report.faults
            );
        }
        if !report.passed() {
            println!("FAILED BGUPLOAD_SEED={seed}");
            for violation in &report.violations {
                println!("  {violation}");
            }
            failed.push(seed);
        }
        totals.simulated_millis += report.simulated_millis;
        totals.uploads_accepted += report.uploads_accepted;
        totals.kills += report.kills;
        totals.targeted_kills += report.targeted_kills;
        totals.relaunches += report.relaunches;
        totals.partitions += report.partitions;
        totals.failed_syncs += report.failed_syncs;
        totals.full_disks += report.full_disks;
        totals.duplicates.add(report.duplicates);
        totals.events_consumed += report.events_consumed;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "seeds {count} | simulated hours {:.1} | uploads {} | kills {} (targeted {}) | relaunches {} | partitions {} | failed syncs {} | full disks {} | events delivered {} | violations in {} seeds | {:.1} seeds/s",
        totals.simulated_millis as f64 / 3_600_000.0,
        totals.uploads_accepted,
        totals.kills,
        totals.targeted_kills,
        totals.relaunches,
        totals.partitions,
        totals.failed_syncs,
        totals.full_disks,
        totals.events_consumed,
        failed.len(),
        count as f64 / seconds.max(f64::EPSILON)
    );
    let duplicates = totals.duplicates;
    println!(
        "duplicates at the server: without idempotency keys {} bodies received again, {} stored again | with keys {} received again, {} stored again",
        duplicates.received_again_unkeyed,
        duplicates.stored_again_unkeyed,
        duplicates.received_again_keyed,
        duplicates.stored_again_keyed,
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
