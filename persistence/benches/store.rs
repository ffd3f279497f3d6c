//! Store benchmarks, printed as tables (figures are printed, never
//! asserted):
//!
//! (a) durable enqueues per second: each enqueue is one `apply` of one
//!     batch holding one `PutUpload`, returning once durable; with 1, 8 and
//!     64 caller threads, next to raw fjall (one `SyncAll` write batch per
//!     call, one thread) measured in the same run, in alternating rounds;
//! (b) recovery: a store with `RECOVERY_EVENTS` unacknowledged events and
//!     `RECOVERY_UPLOADS` uploads; time to open, `load()` and
//!     `Machine::recover`.
//!
//! Run with `cargo bench -p bgupload-persistence`. Stores live in temporary
//! directories (under `/tmp` or `$TMPDIR`), removed at the end.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a test or bench: failing loudly is the point

use bgupload_fsm::{
    Batch, BatchId, BodyFormat, Change, Config, EventId, Machine, Meta, Method, Options, Outcome,
    TerminalEvent, Time, UploadId, UploadRecord, UploadRequest,
};
use bgupload_persistence::{FjallStore, Store, codec};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Each enqueue configuration runs `ENQUEUE_ROUNDS` times for
/// `ENQUEUE_ROUND` each, the configurations taking turns, and the median
/// round is reported: fsync latency on a shared machine drifts with other
/// disk traffic, and taking turns spreads the drift over all of them.
const ENQUEUE_ROUND: Duration = Duration::from_secs(1);
const ENQUEUE_ROUNDS: usize = 5;
const THREAD_COUNTS: [u64; 3] = [1, 8, 64];
const RECOVERY_EVENTS: u64 = 100_000;
const RECOVERY_UPLOADS: u64 = 10_000;
/// Changes per `apply` while the recovery store is filled.
const FILL_CHANGES_PER_APPLY: u64 = 1_000;

fn upload_id(n: u64) -> UploadId {
    UploadId::parse(&format!("00000000-0000-4000-8000-{n:012x}")).unwrap()
}

/// An upload record of a typical size (~300 bytes encoded).
fn upload(n: u64) -> UploadRecord {
    UploadRecord {
        request: UploadRequest {
            id: upload_id(n),
            file_path: format!("/data/user/0/com.example.app/files/photos/IMG_{n:08}.jpg"),
            file_key: "file".into(),
            server_url: "https://uploads.example.com/api/v2/photos".into(),
            headers: vec![
                (
                    "Authorization".into(),
                    "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x".into(),
                ),
                ("X-Client".into(), "bench".into()),
            ],
            parameters: vec![
                ("album".into(), "holidays".into()),
                ("n".into(), n.to_string()),
            ],
            notification_title: "Uploading files".into(),
            method: Method::Post,
            body_format: BodyFormat::Multipart,
            status_policy: bgupload_fsm::StatusPolicy::Any,
            idempotency_key: None,
            network: bgupload_fsm::NetworkRequirement::Any,
        },
        sequence: n,
        last_attempt: None,
        in_flight: false,
        counted_failures: 0,
        paused: false,
        file_size: 0,
    }
}

fn event(n: u64) -> TerminalEvent {
    TerminalEvent {
        event_id: EventId(n),
        upload_id: upload_id(RECOVERY_UPLOADS + n),
        outcome: Outcome::Uploaded {
            status_code: 201,
            server_response: format!("{{\"id\":{n},\"status\":\"stored\",\"bytes\":{}}}", n * 31),
            response_truncated: false,
        },
    }
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// Raw fjall: one single-insert write batch with `SyncAll` per call.
struct Raw {
    db: fjall::Database,
    keyspace: fjall::Keyspace,
    next: u64,
}

impl Raw {
    fn new(dir: &std::path::Path) -> Raw {
        let db = fjall::Database::builder(dir).open().unwrap();
        let keyspace = db
            .keyspace("uploads", fjall::KeyspaceCreateOptions::default)
            .unwrap();
        Raw {
            db,
            keyspace,
            next: 0,
        }
    }

    fn round(&mut self) -> f64 {
        let started = Instant::now();
        let mut count = 0u64;
        while started.elapsed() < ENQUEUE_ROUND {
            count += 1;
            self.next += 1;
            let record = upload(self.next);
            let value = codec::encode_value("upload", &record).unwrap();
            let mut batch = self
                .db
                .batch()
                .durability(Some(fjall::PersistMode::SyncAll));
            batch.insert(&self.keyspace, record.request.id.as_str().as_bytes(), value);
            batch.commit().unwrap();
        }
        per_second(count, started.elapsed())
    }
}

/// `threads` callers enqueue through one FjallStore for one round; returns
/// the rate and the applies and syncs of the round.
fn store_round(store: &Arc<FjallStore>, next: &Arc<AtomicU64>, threads: u64) -> (f64, u64, u64) {
    let before = store.stats();
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let store = Arc::clone(store);
            let next = Arc::clone(next);
            std::thread::spawn(move || {
                while started.elapsed() < ENQUEUE_ROUND {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let batch = Batch {
                        id: BatchId(n),
                        changes: vec![Change::PutUpload(upload(n))],
                    };
                    store.apply(&[batch]).unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let elapsed = started.elapsed();
    let after = store.stats();
    let applies = after.applies - before.applies;
    (
        per_second(applies, elapsed),
        applies,
        after.syncs - before.syncs,
    )
}

fn bench_enqueue() {
    println!(
        "(a) durable enqueues per second (one enqueue = one apply of one PutUpload; \
         median of {ENQUEUE_ROUNDS} rounds of {} s, configurations taking turns)",
        ENQUEUE_ROUND.as_secs()
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut raw = Raw::new(&tmp.path().join("raw"));
    let stores: Vec<(u64, Arc<FjallStore>, Arc<AtomicU64>)> = THREAD_COUNTS
        .iter()
        .map(|&threads| {
            let dir = tmp.path().join(format!("store-{threads}"));
            (
                threads,
                Arc::new(FjallStore::open(&dir).unwrap()),
                Arc::new(AtomicU64::new(1)),
            )
        })
        .collect();
    let mut raw_rates = Vec::new();
    let mut store_rates: Vec<Vec<f64>> = vec![Vec::new(); stores.len()];
    let mut totals = vec![(0u64, 0u64); stores.len()];
    for _ in 0..ENQUEUE_ROUNDS {
        raw_rates.push(raw.round());
        for (index, (threads, store, next)) in stores.iter().enumerate() {
            let (rate, applies, syncs) = store_round(store, next, *threads);
            store_rates[index].push(rate);
            totals[index].0 += applies;
            totals[index].1 += syncs;
        }
    }
    let raw_rate = median(raw_rates.clone());
    println!(
        "{:<34} {:>12} {:>8} {:>12} {:>10}   rounds (enqueues/s)",
        "", "enqueues/s", "x raw", "fsyncs", "enq/fsync"
    );
    let rounds = |rates: &[f64]| {
        rates
            .iter()
            .map(|rate| format!("{rate:.0}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "{:<34} {:>12.0} {:>8.2} {:>12} {:>10.2}   {}",
        "raw fjall SyncAll batch, 1 thread",
        raw_rate,
        1.0,
        "-",
        1.0,
        rounds(&raw_rates)
    );
    for (index, (threads, _, _)) in stores.iter().enumerate() {
        let rate = median(store_rates[index].clone());
        let (applies, syncs) = totals[index];
        println!(
            "{:<34} {:>12.0} {:>8.2} {:>12} {:>10.2}   {}",
            format!("FjallStore, {threads} threads"),
            rate,
            rate / raw_rate,
            syncs,
            applies as f64 / syncs.max(1) as f64,
            rounds(&store_rates[index])
        );
    }
}

fn bench_recovery() {
    println!();
    println!("(b) recovery: {RECOVERY_EVENTS} unacknowledged events, {RECOVERY_UPLOADS} uploads");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let fill_started = Instant::now();
    {
        let store = FjallStore::open(&dir).unwrap();
        let changes: Vec<Change> = (1..=RECOVERY_UPLOADS)
            .map(|n| Change::PutUpload(upload(n)))
            .chain((1..=RECOVERY_EVENTS).map(|n| Change::PutEvent(event(n))))
            .chain(std::iter::once(Change::PutMeta(Meta {
                next_event_id: RECOVERY_EVENTS + 1,
                config: Config::default(),
            })))
            .collect();
        for (index, chunk) in changes
            .chunks(usize::try_from(FILL_CHANGES_PER_APPLY).unwrap())
            .enumerate()
        {
            let batch = Batch {
                id: BatchId(index as u64 + 1),
                changes: chunk.to_vec(),
            };
            store.apply(&[batch]).unwrap();
        }
    }
    println!(
        "fill (not part of recovery):      {:>8.0} ms",
        fill_started.elapsed().as_secs_f64() * 1e3
    );
    let (apparent, used) = dir_bytes(&dir);
    let mib = |bytes: u64| bytes as f64 / 1_048_576.0;
    println!(
        "store on disk:                    {:>8.1} MiB used ({:.1} MiB apparent)",
        mib(used),
        mib(apparent)
    );

    let started = Instant::now();
    let store = FjallStore::open(&dir).unwrap();
    let opened = started.elapsed();
    let recovered = store.load().unwrap();
    let loaded = started.elapsed();
    assert_eq!(
        recovered.events.len() as u64,
        RECOVERY_EVENTS,
        "store content"
    );
    let machine = Machine::recover(Options::new(1), recovered, Time::ZERO);
    let recovered_at = started.elapsed();
    drop(machine);
    let ms = |duration: Duration| duration.as_secs_f64() * 1e3;
    println!("open (journal replay):            {:>8.1} ms", ms(opened));
    println!(
        "load():                           {:>8.1} ms",
        ms(loaded - opened)
    );
    println!(
        "Machine::recover:                 {:>8.1} ms",
        ms(recovered_at - loaded)
    );
    println!(
        "load() + Machine::recover:        {:>8.1} ms",
        ms(recovered_at - opened)
    );
    println!(
        "open + load() + Machine::recover: {:>8.1} ms",
        ms(recovered_at)
    );
}

/// Apparent and allocated bytes under `path` (fjall preallocates its
/// journal sparsely, so the two differ).
fn dir_bytes(path: &std::path::Path) -> (u64, u64) {
    let Ok(entries) = std::fs::read_dir(path) else {
        return (0, 0);
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_bytes(&entry.path()),
            Ok(meta) => (meta.len(), allocated(&meta)),
            Err(_) => (0, 0),
        })
        .fold((0, 0), |(len, used), (more_len, more_used)| {
            (len + more_len, used + more_used)
        })
}

#[cfg(unix)]
fn allocated(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.blocks() * 512
}

#[cfg(not(unix))]
fn allocated(meta: &std::fs::Metadata) -> u64 {
    meta.len()
}

fn main() {
    // `cargo test --benches` runs this with `--test`: skip the long runs.
    if std::env::args().any(|arg| arg == "--test") {
        return;
    }
    bench_enqueue();
    bench_recovery();
}
