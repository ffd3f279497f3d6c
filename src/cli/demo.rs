//! `bgupload demo`: the engine at work, on 127.0.0.1 only, in a temporary
//! directory that is removed at the end.
//!
//! 1. Starts the embedded receiver (throttled, so progress is visible) and
//!    writes six files from kilobytes to tens of megabytes.
//! 2. Queues them; engine A sends them, three at a time. The app
//!    acknowledges each result one event late.
//! 3. Mid-way engine A is killed: its tokio runtime is torn down, driver,
//!    transfers and connections at once, as a process kill would.
//! 4. Engine B starts on the same store: the unfinished uploads resume, the
//!    result that was not acknowledged is delivered again with the same
//!    `eventId`, and every result is acknowledged.
//! 5. Every file is checked byte for byte: the receiver's echoed sha256
//!    against the local file's. Exit status 0 only if all match.

use super::display::{Display, human_bytes, shorten};
use super::engine::{self, Running};
use super::run::{Tracker, label_uploads};
use super::{CliError, CliResult, Context, EXIT_FAILED, REMOVE_ON_EARLY_EXIT};
use bgupload::receiver::{Receiver, ReceiverConfig};
use bgupload_fsm::{
    BodyFormat, Config, Event, EventId, Options, Outcome, ProgressThrottle, Recovered,
    TerminalEvent, UploadPayload,
};
use bgupload_io::driver::DriverTask;
use bgupload_io::{Engine, EngineOptions, StoreCalls};
use bgupload_persistence::FjallStore;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The receiver reads each upload no faster than this.
const THROTTLE_BYTES_PER_SEC: u64 = 8 * 1024 * 1024;
const PARALLEL_UPLOADS: u32 = 3;
/// The files, in queue order: small ones first, so that results arrive
/// while the big ones are in flight.
const FILES: [(&str, u64); 6] = [
    ("notes.txt", 48 * 1024),
    ("scan.pdf", 700 * 1024),
    ("photo.jpg", 2_560 * 1024),
    ("video.mp4", 36 * 1024 * 1024),
    ("archive.zip", 20 * 1024 * 1024),
    ("voice.m4a", 9 * 1024 * 1024),
];
/// Engine A is killed once it ran `KILL_NOT_BEFORE`, this many results
/// arrived and an upload in flight is at least `KILL_AT_PROGRESS` percent
/// done…
const KILL_NOT_BEFORE: Duration = Duration::from_millis(1_500);
const KILL_AFTER_RESULTS: usize = 3;
const KILL_AT_PROGRESS: u8 = 40;
/// …or after this long, whatever happened.
const KILL_AT_LATEST: Duration = Duration::from_secs(8);
/// The whole demo gives up after this long.
const DEMO_DEADLINE: Duration = Duration::from_secs(50);

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn create() -> CliResult<TempDir> {
        let path = std::env::temp_dir().join(format!("bgupload-demo-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).context(format!("cannot create {}", path.display()))?;
        if let Ok(mut paths) = REMOVE_ON_EARLY_EXIT.lock() {
            paths.push(path.clone());
        }
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        if let Ok(mut paths) = REMOVE_ON_EARLY_EXIT.lock() {
            paths.retain(|path| *path != self.0);
        }
    }
}

/// One file of the demo.
struct DemoFile {
    name: &'static str,
    path: PathBuf,
    size: u64,
    sha256: String,
    upload_id: String,
}

/// What the first phase sets up: the temporary directory, the receiver and
/// the files.
struct DemoFiles {
    temp: TempDir,
    started: Instant,
    receiver: Receiver,
    files: Vec<DemoFile>,
}

/// The store both engines run on and the configuration both are given.
struct DemoQueue {
    store: Arc<FjallStore>,
    config: Config,
}

/// Engine A, on a runtime of its own so that it can be torn down.
struct EngineA {
    runtime_a: tokio::runtime::Runtime,
    engine_a: Engine,
    _driver_a: DriverTask,
    delivered: mpsc::UnboundedReceiver<Event>,
}

/// What engine A delivered before it was killed.
struct Killed {
    display: Display,
    first_copies: BTreeMap<EventId, TerminalEvent>,
    in_flight: HashMap<String, u8>,
    held_ack: Option<EventId>,
    engine_a_started: Instant,
}

/// Engine B, relaunched on the same store, and what the store held then.
struct EngineB {
    recovered: Recovered,
    tracker: Tracker,
    display: Display,
    running: Running,
    delivered: mpsc::UnboundedReceiver<Event>,
}

/// What the relaunch ended with.
struct Relaunch {
    recovered: Recovered,
    final_results: HashMap<String, TerminalEvent>,
    delivered_again: HashMap<String, bool>,
    mismatched_copies: usize,
}

pub async fn demo() -> CliResult<ExitCode> {
    match tokio::time::timeout(DEMO_DEADLINE, demo_steps()).await {
        Ok(outcome) => outcome,
        Err(_) => Err(CliError::new(format!(
            "the demo did not finish within {} s",
            DEMO_DEADLINE.as_secs()
        ))),
    }
}

async fn demo_steps() -> CliResult<ExitCode> {
    let demo = prepare_files_and_receiver().await?;
    let queue = open_queue(&demo)?;
    let engine_a = start_engine_a(&demo, &queue).await?;
    let killed = run_engine_a_until_killed(&demo, engine_a).await?;
    report_kill(&killed);
    let engine_b = relaunch_engine_b(&demo, queue).await?;
    let relaunch = acknowledge_every_result(engine_b, &killed).await?;
    let verified = verify_received_files(&demo, &relaunch);
    finish(demo, &relaunch, verified).await
}

/// Starts the receiver and writes the files.
async fn prepare_files_and_receiver() -> CliResult<DemoFiles> {
    let temp = TempDir::create()?;
    let started = Instant::now();
    let mut receiver_config = ReceiverConfig::loopback(temp.0.join("received"));
    receiver_config.throttle_bytes_per_sec = Some(THROTTLE_BYTES_PER_SEC);
    let receiver = Receiver::start(receiver_config)
        .await
        .context("cannot start the embedded receiver")?;
    out!(
        "receiver listening on {} (reads {}/s per upload)",
        receiver.url(),
        human_bytes(THROTTLE_BYTES_PER_SEC)
    );

    let files_dir = temp.0.join("files");
    std::fs::create_dir_all(&files_dir).context("cannot create the files directory")?;
    let mut files = Vec::new();
    for (index, (name, size)) in FILES.iter().enumerate() {
        let path = files_dir.join(name);
        let sha256 = write_pattern_file(&path, *size, index as u64 + 1)?;
        files.push(DemoFile {
            name,
            path,
            size: *size,
            sha256,
            upload_id: uuid::Uuid::new_v4().hyphenated().to_string(),
        });
    }
    let total: u64 = files.iter().map(|file| file.size).sum();
    out!(
        "wrote {} files, {} in all, to {}",
        files.len(),
        human_bytes(total),
        files_dir.display()
    );
    Ok(DemoFiles {
        temp,
        started,
        receiver,
        files,
    })
}

/// Opens the store both engines run on.
fn open_queue(demo: &DemoFiles) -> CliResult<DemoQueue> {
    let data_dir = demo.temp.0.join("data");
    let store = engine::open_store(&data_dir)?;
    let config = Config {
        parallel_uploads_limit: PARALLEL_UPLOADS,
        progress: ProgressThrottle {
            min_interval_millis: 100,
            min_percent_step: 1,
        },
        ..Config::default()
    };
    Ok(DemoQueue { store, config })
}

/// Starts engine A on a runtime of its own and queues every file.
async fn start_engine_a(demo: &DemoFiles, queue: &DemoQueue) -> CliResult<EngineA> {
    // ---- engine A: queue everything, send, get killed ----
    out!("");
    out!("== engine A: {PARALLEL_UPLOADS} uploads at a time; results acknowledged one event late");
    let runtime_a = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("engine-a")
        .enable_all()
        .build()
        .context("cannot start engine A's runtime")?;
    let transport_a = engine::http_transport()?;
    let store_a = queue.store.clone();
    let (engine_a, _driver_a) = runtime_a
        .spawn(async move {
            let options = EngineOptions {
                machine: Options::new(bgupload_io::fresh_seed()),
                store_calls: StoreCalls::Blocking,
            };
            Engine::start(store_a, transport_a, options).await
        })
        .await
        .context("engine A's start-up task failed")?
        .context("cannot start engine A")?;
    let (sender, delivered) = mpsc::unbounded_channel();
    engine_a
        .init(
            queue.config,
            Box::new(move |event: Event| {
                let _ = sender.send(event);
            }),
        )
        .await
        .context("engine A refused init")?;
    for file in &demo.files {
        let payload = UploadPayload {
            id: Some(file.upload_id.clone()),
            file_path: Some(file.path.to_string_lossy().into_owned()),
            server_url: Some(demo.receiver.url()),
            parameters: vec![("name".into(), file.name.into())],
            headers: vec![("X-Demo".into(), "bgupload".into())],
            body_format: BodyFormat::Multipart,
            ..UploadPayload::default()
        };
        engine_a
            .start_upload(payload)
            .await
            .context(format!("engine A refused {}", file.name))?;
    }
    out!(
        "queued {} uploads (each durable before start_upload returned)",
        demo.files.len()
    );
    Ok(EngineA {
        runtime_a,
        engine_a,
        _driver_a,
        delivered,
    })
}

/// Shows engine A's events, acknowledging each result one event late,
/// until it is time to kill it; then kills it.
async fn run_engine_a_until_killed(demo: &DemoFiles, engine: EngineA) -> CliResult<Killed> {
    let EngineA {
        runtime_a,
        engine_a,
        _driver_a,
        mut delivered,
    } = engine;
    let mut display = Display::new(false).with_response_summary(summarize_echo);
    for file in &demo.files {
        display.set_label(&file.upload_id, file.name.to_owned());
    }
    let mut first_copies: BTreeMap<EventId, TerminalEvent> = BTreeMap::new();
    let mut in_flight: HashMap<String, u8> = HashMap::new();
    let mut held_ack: Option<EventId> = None;
    let engine_a_started = Instant::now();
    loop {
        let kill_now = engine_a_started.elapsed() >= KILL_NOT_BEFORE
            && first_copies.len() >= KILL_AFTER_RESULTS
            && in_flight
                .values()
                .any(|progress| *progress >= KILL_AT_PROGRESS);
        if kill_now || first_copies.len() == demo.files.len() {
            break;
        }
        let Some(left) = KILL_AT_LATEST.checked_sub(engine_a_started.elapsed()) else {
            break;
        };
        let event = match tokio::time::timeout(left, delivered.recv()).await {
            Ok(Some(event)) => event,
            Ok(None) => return Err(CliError::new("engine A stopped by itself")),
            Err(_) => break,
        };
        match &event {
            Event::Progress {
                upload_id,
                progress,
            } => {
                in_flight.insert(upload_id.as_str().to_owned(), *progress);
            }
            Event::Terminal(terminal) => {
                in_flight.remove(terminal.upload_id.as_str());
                first_copies.insert(terminal.event_id, terminal.clone());
                // Acknowledge the previous result; hold this one.
                if let Some(previous) = held_ack.replace(terminal.event_id) {
                    engine_a
                        .acknowledge_event(previous)
                        .await
                        .context("engine A refused an acknowledgement")?;
                }
            }
            Event::Rejected(_) => {}
        }
        display.event(&event, "");
    }
    display.clear();
    runtime_a.shutdown_background();
    drop(engine_a);
    Ok(Killed {
        display,
        first_copies,
        in_flight,
        held_ack,
        engine_a_started,
    })
}

/// What engine A delivered and had in flight when it was killed.
fn report_kill(killed: &Killed) {
    let mut in_flight_names: Vec<String> = killed
        .in_flight
        .iter()
        .map(|(id, progress)| format!("{} at {progress}%", killed.display.label(id)))
        .collect();
    in_flight_names.sort();
    out!("");
    out!(
        "** killed engine A after {:.1} s: {} result(s) delivered, {} acknowledged; in flight: {}",
        killed.engine_a_started.elapsed().as_secs_f64(),
        killed.first_copies.len(),
        killed.first_copies.len() - usize::from(killed.held_ack.is_some()),
        if in_flight_names.is_empty() {
            "nothing".to_owned()
        } else {
            in_flight_names.join(", ")
        }
    );
}

/// Starts engine B on the same store and calls `init` on it.
async fn relaunch_engine_b(demo: &DemoFiles, queue: DemoQueue) -> CliResult<EngineB> {
    // ---- engine B: relaunch on the same store ----
    let DemoQueue { store, config } = queue;
    out!("");
    out!("== engine B: relaunched on the same store");
    let recovered = engine::peek(&store)?;
    let tracker = Tracker::new(&recovered);
    out!(
        "the store holds {} unfinished upload(s) and {} unacknowledged result(s)",
        tracker.pending_uploads(),
        tracker.earlier_results()
    );
    let mut display = Display::new(false).with_response_summary(summarize_echo);
    label_uploads(&mut display, &recovered);
    for file in &demo.files {
        display.set_label(&file.upload_id, file.name.to_owned());
    }
    let running = engine::start(store, true).await?;
    let (sender, delivered) = mpsc::unbounded_channel();
    let sink = Box::new(move |event: Event| {
        let _ = sender.send(event);
    });
    if let Err(error) = running.engine.init(config, sink).await {
        return Err(running.explain("engine B refused init", error).await);
    }
    Ok(EngineB {
        recovered,
        tracker,
        display,
        running,
        delivered,
    })
}

/// Shows engine B's events, notes each result delivered again, and
/// acknowledges every result; then stops engine B.
async fn acknowledge_every_result(engine_b: EngineB, killed: &Killed) -> CliResult<Relaunch> {
    let EngineB {
        recovered,
        mut tracker,
        mut display,
        running,
        mut delivered,
    } = engine_b;
    let first_copies = &killed.first_copies;
    let mut final_results: HashMap<String, TerminalEvent> = first_copies
        .values()
        .map(|event| (event.upload_id.as_str().to_owned(), event.clone()))
        .collect();
    let mut delivered_again: HashMap<String, bool> = HashMap::new();
    let mut mismatched_copies = 0;
    while !tracker.is_done() {
        let Some(event) = delivered.recv().await else {
            return Err(match running.stop().await {
                Err(error) => error,
                Ok(()) => CliError::new("engine B stopped by itself"),
            });
        };
        let Event::Terminal(terminal) = &event else {
            display.event(&event, "");
            continue;
        };
        let note = match first_copies.get(&terminal.event_id) {
            Some(first) if first == terminal => "delivered again after the relaunch, same eventId",
            Some(_) => {
                mismatched_copies += 1;
                "DELIVERED AGAIN BUT DIFFERENT"
            }
            None if tracker.is_earlier(terminal.event_id) => "delivered again after the relaunch",
            None => "",
        };
        let upload_id = terminal.upload_id.as_str().to_owned();
        if !note.is_empty() {
            delivered_again.insert(upload_id.clone(), true);
        }
        tracker.record(terminal);
        display.event(&event, note);
        final_results.insert(upload_id, terminal.clone());
        running
            .engine
            .acknowledge_event(terminal.event_id)
            .await
            .context("engine B refused an acknowledgement")?;
    }
    display.clear();
    running.stop().await?;
    out!("every result delivered and acknowledged; the store is empty");
    Ok(Relaunch {
        recovered,
        final_results,
        delivered_again,
        mismatched_copies,
    })
}

/// Prints one row per file; returns how many were received byte-exact.
fn verify_received_files(demo: &DemoFiles, relaunch: &Relaunch) -> usize {
    // ---- verification ----
    out!("");
    out!("== verification: receiver's sha256 (echoed) against the local file");
    let resumed: Vec<&str> = relaunch
        .recovered
        .uploads
        .iter()
        .map(|record| record.request.id.as_str())
        .collect();
    out!(
        "{:<12} {:>10} {:>7} {:>6}  {:<26} {:<14} result",
        "file",
        "size",
        "eventId",
        "status",
        "history",
        "sha256"
    );
    let mut verified = 0;
    for file in &demo.files {
        let result = relaunch.final_results.get(&file.upload_id);
        let history = match (
            resumed.contains(&file.upload_id.as_str()),
            relaunch.delivered_again.contains_key(&file.upload_id),
        ) {
            (true, _) => "resumed after the kill",
            (false, true) => "result delivered twice",
            (false, false) => "done before the kill",
        };
        let (event_id, status, verdict) = result_columns(file, result);
        let verdict_text = match &verdict {
            Ok(()) => {
                verified += 1;
                "byte-exact".to_owned()
            }
            Err(problem) => problem.clone(),
        };
        out!(
            "{:<12} {:>10} {:>7} {:>6}  {:<26} {:<14} {verdict_text}",
            file.name,
            human_bytes(file.size),
            event_id,
            status,
            history,
            file.sha256.get(..12).unwrap_or(&file.sha256),
        );
    }
    verified
}

/// The eventId, status and verdict of one file's row.
fn result_columns(
    file: &DemoFile,
    result: Option<&TerminalEvent>,
) -> (String, String, Result<(), String>) {
    match result.map(|event| (&event.event_id, &event.outcome)) {
        Some((
            event_id,
            Outcome::Uploaded {
                status_code,
                server_response,
                ..
            },
        )) => {
            let verdict = check_echo(file, server_response);
            (event_id.to_string(), status_code.to_string(), verdict)
        }
        Some((event_id, Outcome::Failed { error, error_code })) => (
            event_id.to_string(),
            error_code.to_string(),
            Err(format!("FAILED: {}", shorten(error, 60))),
        ),
        Some((
            event_id,
            Outcome::FailedByServer {
                error, status_code, ..
            },
        )) => (
            event_id.to_string(),
            status_code.to_string(),
            Err(format!("FAILED: {}", shorten(error, 60))),
        ),
        None => ("-".into(), "-".into(), Err("no result".to_owned())),
    }
}

/// Stops the receiver, prints the summary and picks the exit status.
async fn finish(demo: DemoFiles, relaunch: &Relaunch, verified: usize) -> CliResult<ExitCode> {
    let mismatched_copies = relaunch.mismatched_copies;
    demo.receiver.shutdown().await;
    out!("");
    out!(
        "{verified}/{} files verified byte-exact in {:.1} s; {} result(s) delivered again after the kill{}",
        demo.files.len(),
        demo.started.elapsed().as_secs_f64(),
        relaunch.delivered_again.len(),
        if mismatched_copies > 0 {
            format!(", {mismatched_copies} of them DIFFERENT from the first copy")
        } else {
            String::new()
        }
    );
    if verified == demo.files.len() && mismatched_copies == 0 {
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(EXIT_FAILED))
    }
}

/// The receiver's echo in short: `echo photo.jpg 2621440 bytes sha256 ca69646943ff`.
fn summarize_echo(server_response: &str) -> String {
    let echo: serde_json::Value = serde_json::from_str(server_response).unwrap_or_default();
    let info = &echo["receivedInfo"];
    match (
        info["originalFilename"].as_str(),
        info["size"].as_u64(),
        info["sha256"].as_str(),
    ) {
        (Some(name), Some(size), Some(sha256)) => format!(
            "echo {name} {size} bytes sha256 {}",
            sha256.get(..12).unwrap_or(sha256)
        ),
        _ => format!("serverResponse {}", shorten(server_response, 60)),
    }
}

/// Compares the receiver's echo (`receivedInfo.sha256`, `.size`) with the
/// local file.
fn check_echo(file: &DemoFile, server_response: &str) -> Result<(), String> {
    let echo: serde_json::Value = serde_json::from_str(server_response)
        .map_err(|error| format!("unreadable answer: {error}"))?;
    let info = &echo["receivedInfo"];
    let sha256 = info["sha256"].as_str().unwrap_or_default();
    let size = info["size"].as_u64();
    if sha256 != file.sha256 {
        return Err(format!("sha256 differs: {}", shorten(sha256, 12)));
    }
    if size != Some(file.size) {
        return Err(format!("size differs: {size:?}"));
    }
    Ok(())
}

/// Writes `size` pseudo-random bytes from `seed`; returns their sha256.
fn write_pattern_file(path: &Path, size: u64, seed: u64) -> CliResult<String> {
    bgupload::pattern::write_pattern_file(path, size, seed)
        .context(format!("cannot write {}", path.display()))
}
