//! What one seed means: fault rates drawn per seed (swarm testing, as in
//! TigerBeetle's VOPR), the files, and the app's plan of commands.

use bgupload_fsm::SplitMix64;
use std::collections::BTreeMap;
use std::fmt;

/// Which process owns a running transfer in this run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Android/desktop: a kill of the app stops its transfers.
    Engine,
    /// iOS: an "os" host runs transfers and outlives app kills.
    Os,
}

/// Randomness of the simulator: SplitMix64 (the state machine's own) with
/// the helpers the scenario needs.
#[derive(Clone, Debug)]
pub struct Rng(SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(SplitMix64::new(seed))
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        self.0.next_below(bound)
    }

    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.0.next_below(high.saturating_sub(low) + 1)
    }

    /// True with probability `per_million` / 1,000,000.
    pub fn chance(&mut self, per_million: u64) -> bool {
        self.0.next_below(1_000_000) < per_million
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
}

/// Per-seed fault rates. Each is "per million" per step (a step is one
/// `TICK_MILLIS` tick) unless it says otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Faults {
    /// Kill while an event waits in the app's inbox or an ack is unconfirmed.
    pub targeted_kill: u64,
    pub partition: u64,
    pub partition_oneway: u64,
    pub hold: u64,
    pub heal: u64,
    pub latency_spike: u64,
    pub reachability_flip: u64,
    /// The network turns metered, or unmetered again.
    pub metered_flip: u64,
    pub failing_sync: u64,
    /// The disk fills up (healed like the network faults).
    pub disk_full: u64,
    /// Per request, per million.
    pub server_error: u64,
    pub server_slow: u64,
    pub server_drop_after_body: u64,
}

impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "targeted-kill {} partition {} oneway {} hold {} heal {} spike {} reachability {} \
             metered {} failing-sync {} disk-full {} | server 5xx {} slow {} drop {} (per million)",
            self.targeted_kill,
            self.partition,
            self.partition_oneway,
            self.hold,
            self.heal,
            self.latency_spike,
            self.reachability_flip,
            self.metered_flip,
            self.failing_sync,
            self.disk_full,
            self.server_error,
            self.server_slow,
            self.server_drop_after_body
        )
    }
}

/// One command the app issues at a planned time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Start {
        id: String,
        path: String,
        choices: StartChoices,
    },
    Remove {
        id: String,
    },
    Pause {
        id: String,
    },
    Resume {
        id: String,
    },
    ReInit,
    Network {
        reachable: bool,
    },
}

/// What one upload asks for beyond the reference's payload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StartChoices {
    /// `idempotencyKey: true`: the server dedupes its attempts.
    pub keyed: bool,
    /// `statusPolicy: "standard"`: the server's 503s are retried.
    pub standard: bool,
    /// `network: "unmetered"`: waits while the network is metered.
    pub unmetered: bool,
    /// Tells this start from another of the same id (a header the server
    /// groups receptions by: one logical upload each).
    pub nonce: u64,
}

/// Everything a seed decides before the run starts.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub seed: u64,
    pub mode: Mode,
    pub parallel_limit: u32,
    pub faults: Faults,
    /// In-memory files by absolute path.
    pub files: BTreeMap<String, Vec<u8>>,
    /// (millisecond of the run, command), sorted by time.
    pub plan: Vec<(u64, Command)>,
    /// Planned kill times of the app (milliseconds of the run).
    pub kill_times: Vec<u64>,
    /// Milliseconds of each app kill before it is relaunched.
    pub downtime_millis: u64,
    /// Milliseconds the app takes to look at an event it was handed.
    pub app_reaction_millis: u64,
    /// Per million: the app acknowledges a consumed event (else it waits
    /// for a later re-delivery).
    pub ack_rate: u64,
}

/// Step length of the simulation.
pub const TICK_MILLIS: u64 = 10;
/// Faults and commands happen in this window; then the world heals.
pub const FAULT_PHASE_MILLIS: u64 = 120_000;
/// After the fault phase, every upload must end within this window.
pub const LIVENESS_MILLIS: u64 = 15 * 60_000;
pub const UPLOADS_PER_SEED: usize = 20;
pub const MIN_KILLS_PER_SEED: usize = 5;
pub const MAX_FILE_BYTES: u64 = 48 * 1024;

/// Upload `n`'s id: a UUID, or text that is none, as apps write ids (the
/// reference's own tests use `abc` and `file_1`), path-like and non-ASCII
/// included. Distinct for distinct `n`.
fn app_id(seed: u64, n: u64) -> String {
    match n % 3 {
        0 => uuid_for(seed, n),
        1 => format!("file_{}_{n}", seed % 1_000),
        _ => format!("../../{n}/é x"),
    }
}

fn uuid_for(seed: u64, n: u64) -> String {
    let high = seed.rotate_left(17) ^ n.wrapping_mul(0x9E37_79B9);
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        (high >> 32) as u32,
        (high >> 16) as u16,
        (high & 0xfff) as u16,
        (n & 0xfff) as u16,
        (seed ^ n) & 0xffff_ffff_ffff
    )
}

/// Upload `n`: its file, its start (with what it asks for), and maybe a
/// second start, a removal, or a pause and resume.
fn plan_upload(
    rng: &mut Rng,
    seed: u64,
    n: u64,
    files: &mut BTreeMap<String, Vec<u8>>,
    plan: &mut Vec<(u64, Command)>,
) {
    let path = format!("/data/file-{n}.bin");
    let length = rng.below(MAX_FILE_BYTES + 1);
    let mut content = Vec::with_capacity(length as usize);
    let mut bytes = Rng::new(seed ^ (n << 32));
    while (content.len() as u64) < length {
        content.extend_from_slice(&bytes.next_u64().to_le_bytes());
    }
    content.truncate(length as usize);
    files.insert(path.clone(), content);
    let id = app_id(seed, n);
    let at = rng.below(FAULT_PHASE_MILLIS * 3 / 4);
    let choices = StartChoices {
        keyed: rng.chance(500_000),
        standard: rng.chance(500_000),
        unmetered: rng.chance(250_000),
        nonce: 2 * n,
    };
    plan.push((
        at,
        Command::Start {
            id: id.clone(),
            path: path.clone(),
            choices,
        },
    ));
    // A pause during the upload, resumed before the fault phase
    // ends (and again at the end, should a kill lose the resume).
    if rng.chance(200_000) {
        let pause = at + rng.below(5_000);
        let resume = pause + rng.range(100, 20_000);
        plan.push((pause, Command::Pause { id: id.clone() }));
        plan.push((
            resume.min(FAULT_PHASE_MILLIS),
            Command::Resume { id: id.clone() },
        ));
    }
    // Races: the same id again soon after, removal during the upload.
    if rng.chance(100_000) {
        let again = at + rng.below(2_000);
        plan.push((
            again,
            Command::Start {
                id: id.clone(),
                path,
                choices: StartChoices {
                    nonce: 2 * n + 1,
                    ..choices
                },
            },
        ));
    }
    if rng.chance(150_000) {
        let later = at + rng.below(10_000);
        plan.push((later, Command::Remove { id }));
    }
}

impl Scenario {
    pub fn draw(seed: u64, mode: Option<Mode>) -> Scenario {
        let mut rng = Rng::new(seed);
        let mode = mode.unwrap_or(if rng.chance(500_000) {
            Mode::Os
        } else {
            Mode::Engine
        });
        // Swarm: each fault is off in some seeds and strong in others.
        let mut rate = |max: u64| {
            if rng.chance(250_000) {
                0
            } else {
                rng.range(max / 10, max)
            }
        };
        let faults = Faults {
            targeted_kill: rate(20_000),
            partition: rate(3_000),
            partition_oneway: rate(2_000),
            hold: rate(2_000),
            heal: rate(40_000),
            latency_spike: rate(5_000),
            reachability_flip: rate(1_500),
            metered_flip: rate(1_500),
            failing_sync: rate(1_000),
            disk_full: rate(1_000),
            server_error: rate(150_000),
            server_slow: rate(150_000),
            server_drop_after_body: rate(150_000),
        };
        let parallel_limit = rng.range(1, 4) as u32;
        let mut files = BTreeMap::new();
        let mut plan = Vec::new();
        for n in 0..UPLOADS_PER_SEED as u64 {
            plan_upload(&mut rng, seed, n, &mut files, &mut plan);
        }
        // A start whose file does not exist: refused, nothing stored.
        plan.push((
            rng.below(FAULT_PHASE_MILLIS),
            Command::Start {
                id: app_id(seed, 999),
                path: "/data/missing.bin".to_owned(),
                choices: StartChoices::default(),
            },
        ));
        for _ in 0..rng.range(0, 3) {
            plan.push((rng.below(FAULT_PHASE_MILLIS), Command::ReInit));
        }
        plan.sort_by_key(|(at, _)| *at);
        let kills = rng.range(MIN_KILLS_PER_SEED as u64, 8);
        let mut kill_times: Vec<u64> = (0..kills).map(|_| rng.below(FAULT_PHASE_MILLIS)).collect();
        kill_times.sort_unstable();
        Scenario {
            seed,
            mode,
            parallel_limit,
            faults,
            files,
            plan,
            kill_times,
            downtime_millis: rng.range(100, 3_000),
            app_reaction_millis: rng.range(10, 500),
            ack_rate: rng.range(600_000, 1_000_000),
        }
    }

    /// The file an upload of `path` must deliver, byte for byte.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }
}
