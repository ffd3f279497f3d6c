//! One seed, start to end: build the turmoil world from the scenario, step
//! it while injecting the seed's faults, then heal and require liveness.

use crate::scenario::{
    FAULT_PHASE_MILLIS, Faults, LIVENESS_MILLIS, Mode, Rng, Scenario, TICK_MILLIS,
};
use crate::wire::{self, ServerFaults};
use crate::world::{self, Shared};
use bgupload_fsm::Time;
use std::iter::Peekable;
use std::ops::ControlFlow;
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
    /// Times the disk filled up.
    pub full_disks: u64,
    /// Bodies the server received again for an upload it had received,
    /// and copies it stored beyond the first: for uploads without and with
    /// an idempotency key (with one, the server stores one copy).
    pub duplicates: crate::wire::Duplicates,
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
            let message = bgupload_io::panic_message(panic.as_ref());
            SeedReport {
                seed,
                mode,
                violations: vec![format!("panic: {message}")],
                ..SeedReport::default()
            }
        }
    }
}

/// Where the run is across a seed. Time only moves forward, so a seed goes
/// `Faults` → `Healed` → `Finished` (or stops in `Faults` or `Healed`
/// when a host fails or the steps run out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Before `FAULT_PHASE_MILLIS`: faults are injected each step; holds
    /// which of the links' faults are on now.
    Faults(Broken),
    /// The fault phase is over and the world was healed once (links
    /// repaired, network reachable, syncs succeed, `final_phase` set):
    /// waiting for every upload to end.
    Healed,
    /// Healed, the app up, and the checker found every upload ended: the
    /// run stops.
    Finished,
}

/// The network faults in force during the fault phase. Each turns on and
/// off by its own draws, so any combination is possible.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Broken {
    /// The app–server link is cut (both ways, or only the answers).
    partitioned: bool,
    /// The app–server link holds its messages.
    held: bool,
    /// The host OS says the network is unreachable.
    offline: bool,
    /// The store's disk is full.
    disk_full: bool,
    /// The host OS says the network is metered.
    metered: bool,
}

/// The app host across a seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AppHost {
    /// The app process runs: from the start, and after each relaunch.
    Running,
    /// Killed (planned, targeted, or because its driver stopped); turmoil
    /// bounces it at `relaunch_at` (millisecond of the run). No other
    /// kill happens while it is down.
    Killed { relaunch_at: u64 },
}

/// The harness's side of one seed while it steps the world.
struct Run<'a> {
    sim: turmoil::Sim<'a>,
    shared: Shared,
    faults: Faults,
    /// The harness's fault draws, separate from turmoil's and the hosts'.
    rng: Rng,
    kill_times: Peekable<std::vec::IntoIter<u64>>,
    app: AppHost,
    phase: Phase,
    report: SeedReport,
}

fn run_seed_unguarded(seed: u64, mode: Option<Mode>) -> SeedReport {
    let scenario = Scenario::draw(seed, mode);
    let faults = scenario.faults.clone();
    let report = SeedReport {
        seed,
        mode: Some(scenario.mode),
        faults: faults.to_string(),
        ..SeedReport::default()
    };
    let shared = Shared::new(scenario);
    let total = Duration::from_millis(FAULT_PHASE_MILLIS + LIVENESS_MILLIS + 60_000);
    let mut sim = build_sim(seed, total);
    add_hosts(&mut sim, &shared, &faults, seed);
    let mut run = Run::new(sim, shared, faults, seed, report);
    let max_steps = total.as_millis() as u64 / TICK_MILLIS;
    for _step in 0..max_steps {
        if run.step().is_break() {
            break;
        }
    }
    run.into_report()
}

fn build_sim<'a>(seed: u64, total: Duration) -> turmoil::Sim<'a> {
    turmoil::Builder::new()
        .epoch(UNIX_EPOCH + Duration::from_secs(EPOCH_SECONDS))
        .rng_seed(seed)
        .tick_duration(Duration::from_millis(TICK_MILLIS))
        .simulation_duration(total)
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(50))
        // Held links release bursts of retried connects at once; turmoil
        // panics when a listener's backlog overflows, a real kernel drops.
        .tcp_capacity(TCP_CAPACITY)
        .build()
}

/// The server, the app and, in OS-owned mode, the OS, in this order.
fn add_hosts(sim: &mut turmoil::Sim<'_>, shared: &Shared, faults: &Faults, seed: u64) {
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
}

impl<'a> Run<'a> {
    fn new(
        sim: turmoil::Sim<'a>,
        shared: Shared,
        faults: Faults,
        seed: u64,
        report: SeedReport,
    ) -> Run<'a> {
        let rng = Rng::new(seed ^ 0xFA17);
        let kill_times = shared.scenario.kill_times.clone().into_iter().peekable();
        Run {
            sim,
            shared,
            faults,
            rng,
            kill_times,
            app: AppHost::Running,
            phase: Phase::Faults(Broken::default()),
            report,
        }
    }

    /// One step: kills, faults or the heal, the relaunch, the checks, then
    /// one turmoil step. Breaks when the run finished or a host failed.
    fn step(&mut self) -> ControlFlow<()> {
        let now = Time::from_duration(self.sim.elapsed()).as_millis();
        // The driver stopped (a failed sync): the app process restarts.
        let restart = self.shared.lock().needs_restart.take();
        if restart.is_some() && self.app == AppHost::Running {
            self.kill_app(now);
        }
        match self.phase {
            Phase::Faults(broken) if now < FAULT_PHASE_MILLIS => {
                self.fault_phase_kills(now);
                let broken = self.inject_link_faults(broken);
                self.phase = Phase::Faults(broken);
            }
            Phase::Faults(broken) => self.heal(broken),
            Phase::Healed | Phase::Finished => {}
        }
        if matches!(self.app, AppHost::Killed { relaunch_at } if relaunch_at <= now) {
            self.app = AppHost::Running;
            self.sim.bounce(APP);
            self.report.relaunches += 1;
        }
        self.check_settled();
        if self.phase == Phase::Finished {
            return ControlFlow::Break(());
        }
        if let Err(error) = self.sim.step() {
            let mut state = self.shared.lock();
            state
                .checker
                .violations
                .push(format!("a host failed: {error}"));
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    /// Kills the app; it is relaunched after the seed's downtime.
    fn kill_app(&mut self, now: u64) {
        kill(&mut self.sim, &self.shared, &mut self.report);
        self.app = AppHost::Killed {
            relaunch_at: now + self.shared.scenario.downtime_millis,
        };
    }

    /// The planned kill that is due, then perhaps a targeted one.
    fn fault_phase_kills(&mut self, now: u64) {
        if self.kill_times.peek().is_some_and(|at| *at <= now) {
            self.kill_times.next();
            if self.app == AppHost::Running {
                self.kill_app(now);
            }
        }
        // Kills aimed at the two windows write-ahead must cover.
        let (in_inbox, acking) = {
            let state = self.shared.lock();
            (state.terminal_in_inbox > 0, state.acks_in_flight > 0)
        };
        if self.app == AppHost::Running
            && (in_inbox || acking)
            && self.rng.chance(self.faults.targeted_kill)
        {
            self.kill_app(now);
            self.report.targeted_kills += 1;
        }
    }

    /// This step's draws for the network, the disk and reachability;
    /// returns the faults in force after them.
    fn inject_link_faults(&mut self, mut broken: Broken) -> Broken {
        let (sim, rng, faults) = (&mut self.sim, &mut self.rng, &self.faults);
        if !broken.partitioned && rng.chance(faults.partition) {
            sim.partition(APP, SERVER);
            broken.partitioned = true;
            self.report.partitions += 1;
        } else if !broken.partitioned && rng.chance(faults.partition_oneway) {
            // The server gets requests whole; its answers never arrive.
            sim.partition_oneway(SERVER, APP);
            broken.partitioned = true;
            self.report.partitions += 1;
        } else if broken.partitioned && rng.chance(faults.heal) {
            sim.repair(APP, SERVER);
            broken.partitioned = false;
        }
        if !broken.held && rng.chance(faults.hold) {
            sim.hold(APP, SERVER);
            broken.held = true;
        } else if broken.held && rng.chance(faults.heal) {
            sim.release(APP, SERVER);
            broken.held = false;
        }
        if rng.chance(faults.latency_spike) {
            let spike = Duration::from_millis(rng.range(100, 3_000));
            sim.set_link_latency(APP, SERVER, spike);
        }
        if rng.chance(faults.reachability_flip) {
            broken.offline = !broken.offline;
            push_network_change(&self.shared, !broken.offline);
        }
        if rng.chance(faults.metered_flip) {
            broken.metered = !broken.metered;
            self.shared.lock().network_metered = broken.metered;
        }
        if rng.chance(faults.failing_sync) {
            self.shared.store.fail_next_syncs(1);
            self.report.failed_syncs += 1;
        }
        if !broken.disk_full && rng.chance(faults.disk_full) {
            self.shared.store.set_full(true);
            broken.disk_full = true;
            self.report.full_disks += 1;
        } else if broken.disk_full && rng.chance(faults.heal) {
            self.shared.store.set_full(false);
            broken.disk_full = false;
        }
        broken
    }

    /// The fault phase is over: undo what is broken, once.
    fn heal(&mut self, broken: Broken) {
        self.phase = Phase::Healed;
        if broken.partitioned {
            self.sim.repair(APP, SERVER);
        }
        if broken.held {
            self.sim.release(APP, SERVER);
        }
        self.sim
            .set_link_latency(APP, SERVER, Duration::from_millis(5));
        if broken.offline {
            push_network_change(&self.shared, true);
        }
        if broken.metered {
            self.shared.lock().network_metered = false;
        }
        self.shared.store.fail_next_syncs(0);
        if broken.disk_full {
            self.shared.store.set_full(false);
        }
        self.shared.lock().final_phase = true;
    }

    /// Finishes the run once healed with the app up and every upload
    /// ended; checks invariant 4 every step.
    fn check_settled(&mut self) {
        let mut state = self.shared.lock();
        let settled = state.final_phase && self.app == AppHost::Running;
        if settled && state.checker.finished(&self.shared.durable()) {
            self.phase = Phase::Finished;
        }
        let limit = self.shared.scenario.parallel_limit as usize;
        let in_flight = state.app_transfers.len().max(in_flight_os(&state));
        if in_flight > limit && state.checker.violations.len() < 20 {
            state.checker.violations.push(format!(
                "invariant 4: {in_flight} transfers in flight > parallelUploadsLimit {limit}"
            ));
        }
    }

    /// The end-of-run checks (checker, server, liveness) and the report.
    fn into_report(self) -> SeedReport {
        // Bound before `state`, so `state` is released before the hosts
        // drop: their drops lock it.
        let Run {
            sim,
            shared,
            phase,
            mut report,
            ..
        } = self;
        let durable = shared.durable();
        let state = shared.lock();
        let mut checker_violations = state.checker.violations.clone();
        {
            let log = shared.server_log();
            let mut server_check = crate::checker::Checker::new();
            server_check.server(&log, |id| shared.expected_file(id));
            checker_violations.extend(server_check.violations);
        }
        if phase != Phase::Finished {
            checker_violations.extend(state.checker.liveness_failures(&durable));
            if checker_violations.is_empty() {
                checker_violations.push("liveness: the run did not finish in time".to_owned());
            }
        }
        report.violations = checker_violations;
        report.simulated_millis = Time::from_duration(sim.elapsed()).as_millis();
        report.uploads_accepted = state.checker.accepted.len() as u64;
        report.events_delivered = state.checker.events_delivered;
        report.events_consumed = state.checker.events_consumed;
        report.trace_hash = state.checker.trace_hash;
        report.duplicates = shared.server_log().duplicates();
        report
    }
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
