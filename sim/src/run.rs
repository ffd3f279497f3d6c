//! One seed, start to end: build the turmoil world from the scenario, step
//! it while injecting the seed's faults, then heal and require liveness.

use crate::scenario::{FAULT_PHASE_MILLIS, LIVENESS_MILLIS, Mode, Rng, Scenario, TICK_MILLIS};
use crate::wire::{self, ServerFaults};
use crate::world::{self, Shared};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

const APP: &str = "app";
const OS: &str = "os";
const SERVER: &str = wire::SERVER_HOST;
/// A fixed epoch: the same seed is the same run on any day.
const EPOCH_SECONDS: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

/// Segments a turmoil socket (and a listener's backlog) holds.
const TCP_CAPACITY: usize = 16_384;

/// What one seed did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub seed: u64,
    pub mode: Option<Mode>,
    pub simulated_millis: u64,
    pub uploads_accepted: u64,
    pub kills: u64,
    /// Kills right after an event was handed over or an ack was sent.
    pub targeted_kills: u64,
    pub relaunches: u64,
    pub partitions: u64,
    pub failed_syncs: u64,
    pub events_delivered: u64,
    pub events_consumed: u64,
    pub violations: Vec<String>,
    /// Hash of everything the app consumed, in order: equal for equal seeds.
    pub trace_hash: u64,
    /// The fault rates of this seed, for the log.
    pub faults: String,
}

impl SeedReport {
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Runs one seed. `mode` forces the transfer ownership (else the seed picks).
/// A panic anywhere in the run (a host, the checker, turmoil) is reported
/// as a violation of that seed, so the seed is never lost.
pub fn run_seed(seed: u64, mode: Option<Mode>) -> SeedReport {
    match std::panic::catch_unwind(|| run_seed_unguarded(seed, mode)) {
        Ok(report) => report,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_owned()))
                .unwrap_or_else(|| "a panic without a message".to_owned());
            SeedReport {
                seed,
                mode,
                violations: vec![format!("panic: {message}")],
                ..SeedReport::default()
            }
        }
    }
}

fn run_seed_unguarded(seed: u64, mode: Option<Mode>) -> SeedReport {
    let scenario = Scenario::draw(seed, mode);
    let faults = scenario.faults.clone();
    let mut report = SeedReport {
        seed,
        mode: Some(scenario.mode),
        faults: faults.to_string(),
        ..SeedReport::default()
    };
    let shared = Shared::new(scenario);
    let total = Duration::from_millis(FAULT_PHASE_MILLIS + LIVENESS_MILLIS + 60_000);
    let mut sim = turmoil::Builder::new()
        .epoch(UNIX_EPOCH + Duration::from_secs(EPOCH_SECONDS))
        .rng_seed(seed)
        .tick_duration(Duration::from_millis(TICK_MILLIS))
        .simulation_duration(total)
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(50))
        // Held links release bursts of retried connects at once; turmoil
        // panics when a listener's backlog overflows, a real kernel drops.
        .tcp_capacity(TCP_CAPACITY)
        .build();

    {
        let log = shared.server.clone();
        let server_faults = ServerFaults {
            error: faults.server_error,
            slow: faults.server_slow,
            drop_after_body: faults.server_drop_after_body,
        };
        let rng = Arc::new(Mutex::new(Rng::new(seed ^ 0x5E4F)));
        sim.host(SERVER, move || {
            wire::serve(log.clone(), server_faults.clone(), rng.clone())
        });
    }
    {
        let shared = shared.clone();
        sim.host(APP, move || world::app_host(shared.clone()));
    }
    if shared.scenario.mode == Mode::Os {
        let shared = shared.clone();
        sim.host(OS, move || world::os_host(shared.clone()));
    }

    let mut rng = Rng::new(seed ^ 0xFA17);
    let mut kill_times = shared.scenario.kill_times.clone().into_iter().peekable();
    let mut relaunch_at: Option<u64> = None;
    let mut partitioned = false;
    let mut held = false;
    let mut offline = false;
    let mut healed = false;
    let mut finished = false;
    let max_steps = total.as_millis() as u64 / TICK_MILLIS;

    for _step in 0..max_steps {
        let now = sim.elapsed().as_millis() as u64;
        // The driver stopped (a failed sync): the app process restarts.
        let restart = shared.lock().needs_restart.take();
        if restart.is_some() && relaunch_at.is_none() {
            kill(&mut sim, &shared, &mut report);
            relaunch_at = Some(now + shared.scenario.downtime_millis);
        }
        if now < FAULT_PHASE_MILLIS {
            if kill_times.peek().is_some_and(|at| *at <= now) {
                kill_times.next();
                if relaunch_at.is_none() {
                    kill(&mut sim, &shared, &mut report);
                    relaunch_at = Some(now + shared.scenario.downtime_millis);
                }
            }
            // Kills aimed at the two windows write-ahead must cover.
            let (in_inbox, acking) = {
                let state = shared.lock();
                (state.terminal_in_inbox > 0, state.acks_in_flight > 0)
            };
            if relaunch_at.is_none() && (in_inbox || acking) && rng.chance(faults.targeted_kill) {
                kill(&mut sim, &shared, &mut report);
                relaunch_at = Some(now + shared.scenario.downtime_millis);
                report.targeted_kills += 1;
            }
            if !partitioned && rng.chance(faults.partition) {
                sim.partition(APP, SERVER);
                partitioned = true;
                report.partitions += 1;
            } else if !partitioned && rng.chance(faults.partition_oneway) {
                // The server gets requests whole; its answers never arrive.
                sim.partition_oneway(SERVER, APP);
                partitioned = true;
                report.partitions += 1;
            } else if partitioned && rng.chance(faults.heal) {
                sim.repair(APP, SERVER);
                partitioned = false;
            }
            if !held && rng.chance(faults.hold) {
                sim.hold(APP, SERVER);
                held = true;
            } else if held && rng.chance(faults.heal) {
                sim.release(APP, SERVER);
                held = false;
            }
            if rng.chance(faults.latency_spike) {
                let spike = Duration::from_millis(rng.range(100, 3_000));
                sim.set_link_latency(APP, SERVER, spike);
            }
            if rng.chance(faults.reachability_flip) {
                offline = !offline;
                push_network_change(&shared, !offline);
            }
            if rng.chance(faults.failing_sync) {
                shared.store.fail_next_syncs(1);
                report.failed_syncs += 1;
            }
        } else if !healed {
            healed = true;
            if partitioned {
                sim.repair(APP, SERVER);
            }
            if held {
                sim.release(APP, SERVER);
            }
            sim.set_link_latency(APP, SERVER, Duration::from_millis(5));
            if offline {
                push_network_change(&shared, true);
            }
            shared.store.fail_next_syncs(0);
            shared.lock().final_phase = true;
        }
        if relaunch_at.is_some_and(|at| at <= now) {
            relaunch_at = None;
            sim.bounce(APP);
            report.relaunches += 1;
        }
        {
            let mut state = shared.lock();
            let settled = state.final_phase && relaunch_at.is_none();
            if settled && state.checker.finished(&shared.durable()) {
                finished = true;
            }
            let limit = shared.scenario.parallel_limit as usize;
            let in_flight = state.app_transfers.len().max(in_flight_os(&state));
            if in_flight > limit && state.checker.violations.len() < 20 {
                state.checker.violations.push(format!(
                    "invariant 4: {in_flight} transfers in flight > parallelUploadsLimit {limit}"
                ));
            }
        }
        if finished {
            break;
        }
        if let Err(error) = sim.step() {
            let mut state = shared.lock();
            state
                .checker
                .violations
                .push(format!("a host failed: {error}"));
            break;
        }
    }

    let durable = shared.durable();
    let state = shared.lock();
    let mut checker_violations = state.checker.violations.clone();
    {
        let log = shared.server_log();
        let mut server_check = crate::checker::Checker::new();
        server_check.server(&log, |id| shared.expected_file(id));
        checker_violations.extend(server_check.violations);
    }
    if !finished {
        checker_violations.extend(state.checker.liveness_failures(&durable));
        if checker_violations.is_empty() {
            checker_violations.push("liveness: the run did not finish in time".to_owned());
        }
    }
    report.violations = checker_violations;
    report.simulated_millis = sim.elapsed().as_millis() as u64;
    report.uploads_accepted = state.checker.accepted.len() as u64;
    report.events_delivered = state.checker.events_delivered;
    report.events_consumed = state.checker.events_consumed;
    report.trace_hash = state.checker.trace_hash;
    report
}

fn in_flight_os(state: &world::State) -> usize {
    let cancelling = state
        .os_jobs
        .iter()
        .filter(|job| matches!(job, world::OsJob::Cancel { .. }))
        .count();
    state.os_transfers.len().saturating_sub(cancelling)
}

fn push_network_change(shared: &Shared, reachable: bool) {
    shared.lock().network_reachable = reachable;
}

fn kill(sim: &mut turmoil::Sim<'_>, shared: &Shared, report: &mut SeedReport) {
    shared.lock().app_dying = true;
    sim.crash(APP);
    // The process died: what it wrote but did not sync is gone.
    shared.store.crash();
    report.kills += 1;
    let durable = shared.durable();
    let mut state = shared.lock();
    state.app_transfers.clear();
    state.terminal_in_inbox = 0;
    state.acks_in_flight = 0;
    state.checker.after_kill(&durable);
}
