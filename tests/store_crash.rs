//! Crash test of the real on-disk store: a writer process is killed with
//! SIGKILL hundreds of times at random moments, and after every kill the
//! store must hold exactly the batches 1..=k for some k no smaller than the
//! last batch the writer reported durable (and at most one more), each one
//! whole.
//!
//! How it runs: `store_survives_sigkill` (the parent) runs this very test
//! binary again as the writer, with `CHILD_DIR_ENV` set to the store
//! directory and the test filter `CHILD_TEST`. The writer (`crash_child`;
//! without the variable it does nothing) opens the store, finds the last
//! batch number k it holds (from `Meta::next_event_id`), and applies batch
//! k+1, k+2, … one `apply` each, printing `durable <n>` (flushed) after
//! each returns. The parent kills it after a seeded-random delay, waits for
//! it, reopens the store and compares it with a model that replays the
//! batches. The directory is kept across kills, so the store grows.
//!
//! Knobs: `BGUPLOAD_CRASH_SEED` replays a run (the seed is printed);
//! `BGUPLOAD_CRASH_KILLS` sets the number of kills (default
//! `DEFAULT_KILLS`). Unix only (SIGKILL).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a test or bench: failing loudly is the point
#![cfg(unix)]

use bgupload_fsm::{
    Batch, BatchId, BodyFormat, Change, Config, EventId, Meta, Method, Outcome, Recovered,
    SplitMix64, TerminalEvent, UploadId, UploadRecord, UploadRequest,
};
use bgupload_persistence::{FjallStore, Store, StoreError};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SEED_ENV: &str = "BGUPLOAD_CRASH_SEED";
const KILLS_ENV: &str = "BGUPLOAD_CRASH_KILLS";
const CHILD_DIR_ENV: &str = "BGUPLOAD_CRASH_CHILD_DIR";
const CHILD_TEST: &str = "crash_child";
const DURABLE_PREFIX: &str = "durable ";

const DEFAULT_KILLS: u64 = 200;
/// The parent stops killing after this long, whatever the kill count.
const RUN_DEADLINE: Duration = Duration::from_secs(300);
/// Where kills land: one in `STARTUP_KILL_ONE_IN` at a uniform moment of
/// the writer's start-up (exec, open, journal recovery, load), the others
/// at a uniform moment up to `WRITE_WINDOW` after it (plus a margin).
/// Start-up time is measured (first report of each writer) as the store
/// grows, starting from `INITIAL_STARTUP_GUESS`, capped at
/// `MAX_STARTUP_ESTIMATE`.
const STARTUP_KILL_ONE_IN: u64 = 4;
const WRITE_WINDOW: Duration = Duration::from_millis(40);
const INITIAL_STARTUP_GUESS: Duration = Duration::from_millis(50);
const MAX_STARTUP_ESTIMATE: Duration = Duration::from_secs(2);
/// Write-phase kills wait start-up plus start-up / this.
const STARTUP_MARGIN_DIVISOR: u32 = 3;
/// A writer that is never killed stops on its own after this long or this
/// many batches.
const CHILD_MAX_RUN: Duration = Duration::from_secs(60);
const CHILD_MAX_BATCHES: u64 = 1_000_000;
/// Uploads live for this many batches before a batch deletes them.
const UPLOAD_LIFETIME: u64 = 4;
/// Events are deleted (acknowledged) this many batches later, except the
/// odd event of every `KEPT_EVENT_EVERY`th batch, kept for good (so the
/// store grows).
const EVENT_LIFETIME: u64 = 2;
const KEPT_EVENT_EVERY: u64 = 8;
/// Parameter bytes of an upload vary up to this size.
const MAX_PARAMETER_BYTES: u64 = 256;

// ---- the batches, derived from their number ----

fn upload_id(n: u64) -> UploadId {
    UploadId::parse(&format!("00000000-0000-4000-8000-{n:012x}")).unwrap()
}

fn upload(n: u64, counted_failures: u32) -> UploadRecord {
    let filler = "p".repeat(usize::try_from(n.wrapping_mul(7919) % MAX_PARAMETER_BYTES).unwrap());
    UploadRecord {
        request: UploadRequest {
            id: upload_id(n),
            file_path: format!("/data/file-{n}.bin"),
            file_key: "file".into(),
            server_url: format!("https://example.invalid/upload/{n}"),
            headers: vec![("X-Batch".into(), n.to_string())],
            parameters: vec![("filler".into(), filler)],
            notification_title: "Uploading files".into(),
            method: if n.is_multiple_of(2) {
                Method::Post
            } else {
                Method::Put
            },
            body_format: BodyFormat::Multipart,
            status_policy: bgupload_fsm::StatusPolicy::Any,
            idempotency_key: None,
            network: bgupload_fsm::NetworkRequirement::Any,
        },
        sequence: n,
        last_attempt: None,
        in_flight: false,
        counted_failures,
        paused: n.is_multiple_of(3),
        file_size: n,
    }
}

fn event(id: u64) -> TerminalEvent {
    TerminalEvent {
        event_id: EventId(id),
        upload_id: upload_id(id / 2),
        outcome: Outcome::Uploaded {
            status_code: 200 + u16::try_from(id % 100).unwrap(),
            server_response: format!("response to {id}"),
            response_truncated: false,
        },
    }
}

/// The meta record of batch `n`: it encodes `n`, so the store tells which
/// batch it holds last.
fn meta(n: u64) -> Meta {
    Meta {
        next_event_id: 2 * n + 2,
        config: Config {
            parallel_uploads_limit: u32::try_from(n % 64).unwrap() + 1,
            ..Config::default()
        },
    }
}

fn last_batch_of(recovered: &Recovered) -> u64 {
    recovered
        .meta
        .map_or(0, |meta| (meta.next_event_id - 2) / 2)
}

/// Batch `n`: puts upload n and events 2n and 2n+1, updates upload n-1,
/// deletes upload n-`UPLOAD_LIFETIME` and the events of batch
/// n-`EVENT_LIFETIME` (but see `KEPT_EVENT_EVERY`), and writes the meta
/// record.
fn batch(n: u64) -> Batch {
    let mut changes = vec![
        Change::PutUpload(upload(n, 0)),
        Change::PutEvent(event(2 * n)),
        Change::PutEvent(event(2 * n + 1)),
    ];
    if n > 1 {
        changes.push(Change::PutUpload(upload(
            n - 1,
            u32::try_from(n % 1000).unwrap(),
        )));
    }
    if n > UPLOAD_LIFETIME {
        changes.push(Change::DeleteUpload(upload_id(n - UPLOAD_LIFETIME)));
    }
    if n > EVENT_LIFETIME {
        let old = n - EVENT_LIFETIME;
        changes.push(Change::DeleteEvent(EventId(2 * old)));
        if !old.is_multiple_of(KEPT_EVENT_EVERY) {
            changes.push(Change::DeleteEvent(EventId(2 * old + 1)));
        }
    }
    changes.push(Change::PutMeta(meta(n)));
    Batch {
        id: BatchId(n),
        changes,
    }
}

/// The store content after batches 1..=`applied`, advanced batch by batch.
#[derive(Default)]
struct Model {
    applied: u64,
    uploads: BTreeMap<String, UploadRecord>,
    events: BTreeMap<u64, TerminalEvent>,
    meta: Option<Meta>,
}

impl Model {
    fn advance_to(&mut self, k: u64) {
        while self.applied < k {
            self.applied += 1;
            for change in batch(self.applied).changes {
                match change {
                    Change::PutUpload(record) => {
                        self.uploads.insert(record.request.id.to_string(), record);
                    }
                    Change::DeleteUpload(id) => {
                        self.uploads.remove(id.as_str());
                    }
                    Change::PutEvent(event) => {
                        self.events.insert(event.event_id.0, event);
                    }
                    Change::DeleteEvent(id) => {
                        self.events.remove(&id.0);
                    }
                    Change::PutMeta(meta) => self.meta = Some(meta),
                }
            }
        }
    }

    /// What a store holding exactly these batches loads (uploads in key
    /// order, events in id order).
    fn recovered(&self) -> Recovered {
        Recovered {
            uploads: self.uploads.values().cloned().collect(),
            events: self.events.values().cloned().collect(),
            meta: self.meta,
            legacy_uploads: Vec::new(),
        }
    }
}

// ---- the writer ----

#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else {
        return;
    };
    let store = FjallStore::open(Path::new(&dir)).unwrap();
    let start = last_batch_of(&store.load().unwrap());
    let started = Instant::now();
    let mut out = std::io::stdout().lock();
    for n in (start + 1)..=(start + CHILD_MAX_BATCHES) {
        if started.elapsed() > CHILD_MAX_RUN {
            break;
        }
        store.apply(&[batch(n)]).unwrap();
        writeln!(out, "{DURABLE_PREFIX}{n}").unwrap();
        out.flush().unwrap();
    }
}

// ---- the parent ----

/// The engine's SplitMix64, placing kills: a duration below `limit`.
fn below(rng: &mut SplitMix64, limit: Duration) -> Duration {
    let micros = u64::try_from(limit.as_micros()).unwrap().max(1);
    Duration::from_micros(rng.next_below(micros))
}

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    Some(
        text.parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
    )
}

fn spawn_writer(dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR_ENV, dir)
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads everything `pipe` gives until the writer dies; also says when
/// (after `spawned`) the first durable report came.
fn drain<R: Read + Send + 'static>(
    pipe: R,
    spawned: Instant,
) -> std::thread::JoinHandle<(String, Option<Duration>)> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let mut first_report = None;
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if first_report.is_none() && line.contains(DURABLE_PREFIX) {
                first_report = Some(spawned.elapsed());
            }
            text.push_str(&line);
            text.push('\n');
        }
        (text, first_report)
    })
}

fn reported_durable(stdout: &str) -> Option<u64> {
    stdout
        .lines()
        // The first report shares its line with libtest's "test … ".
        .filter_map(|line| line.split_once(DURABLE_PREFIX).map(|(_, n)| n))
        .map(|n| n.trim().parse::<u64>().unwrap())
        .max()
}

fn open_for_check(dir: &Path) -> FjallStore {
    match FjallStore::open(dir) {
        Ok(store) => store,
        Err(StoreError::Locked { .. }) => panic!("the killed writer still holds the lock"),
        Err(error) => panic!("the store does not reopen after a kill: {error}"),
    }
}

#[test]
fn store_survives_sigkill() {
    let seed = env_u64(SEED_ENV).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |elapsed| elapsed.as_nanos() as u64)
    });
    let kills = env_u64(KILLS_ENV).unwrap_or(DEFAULT_KILLS);
    eprintln!("store_crash: seed {seed} (replay with {SEED_ENV}={seed}), {kills} kills");
    let mut rng = SplitMix64::new(seed);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let started = Instant::now();

    let mut model = Model::default();
    let mut reported = 0u64; // highest batch any writer reported durable
    let mut kills_done = 0u64;
    let mut ahead_of_report = 0u64; // kills after a batch's write, before its report
    let mut silent_runs = 0u64; // killed before reporting anything
    let mut startup = INITIAL_STARTUP_GUESS;
    for kill in 0..kills {
        if started.elapsed() > RUN_DEADLINE {
            eprintln!("store_crash: deadline reached after {kill} kills");
            break;
        }
        let delay = if rng.next_u64().is_multiple_of(STARTUP_KILL_ONE_IN) {
            below(&mut rng, startup)
        } else {
            // A margin over the last start-up, which varies.
            startup + startup / STARTUP_MARGIN_DIVISOR + below(&mut rng, WRITE_WINDOW)
        };
        let spawned = Instant::now();
        let mut child = spawn_writer(&dir);
        let stdout = drain(child.stdout.take().unwrap(), spawned);
        let stderr = drain(child.stderr.take().unwrap(), spawned);
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        let (stdout, first_report) = stdout.join().unwrap();
        let (stderr, _) = stderr.join().unwrap();
        if let Some(measured) = first_report {
            startup = measured.min(MAX_STARTUP_ESTIMATE);
        }
        kills_done += 1;
        {
            use std::os::unix::process::ExitStatusExt;
            assert!(
                status.signal().is_some() || status.success(),
                "kill {kill} (seed {seed}): the writer failed on its own: {status}\n{stderr}"
            );
        }
        match reported_durable(&stdout) {
            Some(n) => {
                assert!(n > reported, "a writer starts after every durable batch");
                reported = n;
            }
            None => silent_runs += 1,
        }

        let store = open_for_check(&dir);
        let loaded = store
            .load()
            .unwrap_or_else(|error| panic!("kill {kill} (seed {seed}): load failed: {error}"));
        drop(store);
        let k = last_batch_of(&loaded);
        assert!(
            k >= reported,
            "kill {kill} (seed {seed}): batch {reported} was reported durable, the store ends at {k}"
        );
        assert!(
            k <= reported + 1,
            "kill {kill} (seed {seed}): the store ends at {k}, more than one past the reported {reported}"
        );
        assert!(
            k >= model.applied,
            "kill {kill} (seed {seed}): the store went back from {} to {k}",
            model.applied
        );
        if k > reported {
            ahead_of_report += 1;
        }
        // Its writer never reported batch k but it is durable: every later
        // writer starts after it.
        reported = k;
        model.advance_to(k);
        assert!(
            loaded == model.recovered(),
            "kill {kill} (seed {seed}): the store is not exactly batches 1..={k} \
             (a batch is partly applied or damaged): {} uploads / {} events loaded, \
             {} / {} expected",
            loaded.uploads.len(),
            loaded.events.len(),
            model.uploads.len(),
            model.events.len(),
        );
    }
    let elapsed = started.elapsed();
    eprintln!(
        "store_crash: seed {seed}: {kills_done} kills in {:.1} s; the store holds batches \
         1..={} ({} uploads, {} events); writer start-up now {} ms; {ahead_of_report} kills \
         landed after a batch was written but before its report (mostly in its fsync), \
         {silent_runs} before the writer reported anything",
        elapsed.as_secs_f64(),
        model.applied,
        model.uploads.len(),
        model.events.len(),
        startup.as_millis(),
    );
    assert!(kills_done > 0);
    assert!(
        model.applied > 0,
        "no writer ever made a batch durable: the test proved nothing"
    );
}
