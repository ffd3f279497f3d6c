//! `bgupload run`: sends the queue, shows progress and results, acknowledges
//! each result once it is printed, and exits when nothing is left.
//!
//! What is left is known without asking the engine: the queue is read just
//! before the engine starts on it (the store's lock keeps every other
//! process out while `run` holds it), so `run` knows each upload that must
//! end and each earlier result that `init` delivers again.

use super::display::{Display, human_bytes};
use super::engine;
use super::{CliError, CliResult, EXIT_FAILED, EXIT_INTERRUPTED, RunArgs};
use bgupload_fsm::{Config, Event, EventId, Outcome, Recovered, RetryPolicy, TerminalEvent};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;
use tokio::sync::mpsc;

/// What `run` waits for, and what it has seen.
#[derive(Debug, Default)]
pub struct Tracker {
    /// Uploads that have not ended: id → file size (when readable).
    pending_uploads: HashMap<String, Option<u64>>,
    /// Stored results `init` delivers again.
    pending_events: BTreeSet<EventId>,
    /// Results from an earlier run, as found at start.
    earlier_events: BTreeSet<EventId>,
    handled_events: BTreeSet<EventId>,
    /// Sizes of every upload known at start, for the byte count.
    sizes: HashMap<String, u64>,
    pub uploaded: u64,
    pub failed: u64,
    pub bytes_uploaded: u64,
}

impl Tracker {
    pub fn new(recovered: &Recovered) -> Tracker {
        let mut tracker = Tracker::default();
        for event in &recovered.events {
            tracker.pending_events.insert(event.event_id);
            tracker.earlier_events.insert(event.event_id);
        }
        let ended: BTreeSet<&str> = recovered
            .events
            .iter()
            .map(|event| event.upload_id.as_str())
            .collect();
        for record in &recovered.uploads {
            let id = record.request.id.as_str();
            let size = std::fs::metadata(&record.request.file_path)
                .ok()
                .map(|meta| meta.len());
            if let Some(size) = size {
                tracker.sizes.insert(id.to_owned(), size);
            }
            // An upload that already has a result is not sent again (the
            // engine drops such a record when it starts).
            if !ended.contains(id) {
                tracker.pending_uploads.insert(id.to_owned(), size);
            }
        }
        tracker
    }

    pub fn pending_uploads(&self) -> usize {
        self.pending_uploads.len()
    }

    pub fn pending_bytes(&self) -> u64 {
        self.pending_uploads.values().flatten().sum()
    }

    pub fn earlier_results(&self) -> usize {
        self.earlier_events.len()
    }

    /// Whether `event_id` was stored before this engine started.
    pub fn is_earlier(&self, event_id: EventId) -> bool {
        self.earlier_events.contains(&event_id)
    }

    /// Counts a result; false when it was seen already.
    pub fn record(&mut self, event: &TerminalEvent) -> bool {
        self.pending_events.remove(&event.event_id);
        self.pending_uploads.remove(event.upload_id.as_str());
        if !self.handled_events.insert(event.event_id) {
            return false;
        }
        match event.outcome {
            Outcome::Uploaded { .. } => {
                self.uploaded += 1;
                self.bytes_uploaded += self
                    .sizes
                    .get(event.upload_id.as_str())
                    .copied()
                    .unwrap_or(0);
            }
            Outcome::Failed { .. } | Outcome::FailedByServer { .. } => self.failed += 1,
        }
        true
    }

    /// Nothing left to send and nothing left to acknowledge.
    pub fn is_done(&self) -> bool {
        self.pending_uploads.is_empty() && self.pending_events.is_empty()
    }
}

/// Labels (file names) for every upload in the queue.
pub fn label_uploads(display: &mut Display, recovered: &Recovered) {
    for record in &recovered.uploads {
        let name = Path::new(&record.request.file_path)
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| record.request.file_path.clone());
        display.set_label(record.request.id.as_str(), name);
    }
}

/// The summary line: `uploaded 3, failed 1 in 4.2 s, 12.3 MiB (2.9 MiB/s)`.
pub fn summary(tracker: &Tracker, started: Instant) -> String {
    let seconds = started.elapsed().as_secs_f64();
    let rate = if seconds > 0.0 {
        human_bytes((tracker.bytes_uploaded as f64 / seconds) as u64)
    } else {
        human_bytes(0)
    };
    format!(
        "uploaded {}, failed {} in {seconds:.1} s, {} ({rate}/s)",
        tracker.uploaded,
        tracker.failed,
        human_bytes(tracker.bytes_uploaded),
    )
}

enum Ending {
    Finished,
    Interrupted,
    EngineStopped,
}

pub async fn run(data_dir: &Path, args: RunArgs) -> CliResult<ExitCode> {
    let mut ctrl_c = super::listen_for_ctrl_c().await;
    let store = engine::open_store(data_dir)?;
    let recovered = engine::peek(&store)?;
    let mut tracker = Tracker::new(&recovered);
    let mut display = Display::new(args.json);
    label_uploads(&mut display, &recovered);
    let config = Config {
        parallel_uploads_limit: args.parallel,
        retry: RetryPolicy {
            max_attempts: args.max_attempts,
            initial_backoff_millis: args.retry_backoff_ms,
            ..RetryPolicy::default()
        },
        ..Config::default()
    };
    if !display.is_json() {
        display.line(&format!(
            "{} queued upload(s), {}; {} earlier result(s) to deliver; up to {} at a time",
            tracker.pending_uploads(),
            human_bytes(tracker.pending_bytes()),
            tracker.earlier_results(),
            args.parallel
        ));
    }

    let running = engine::start(store, true).await?;
    let (sender, mut delivered) = mpsc::unbounded_channel();
    let sink = Box::new(move |event: Event| {
        let _ = sender.send(event);
    });
    if let Err(error) = running.engine.init(config, sink).await {
        return Err(running
            .explain("cannot start delivering events", error)
            .await);
    }
    let started = Instant::now();
    let ending = loop {
        while let Ok(event) = delivered.try_recv() {
            handle(&running, &mut tracker, &mut display, event).await?;
        }
        if tracker.is_done() {
            break Ending::Finished;
        }
        tokio::select! {
            event = delivered.recv() => match event {
                Some(event) => handle(&running, &mut tracker, &mut display, event).await?,
                None => break Ending::EngineStopped,
            },
            _ = &mut ctrl_c => break Ending::Interrupted,
        }
    };
    display.clear();
    let line = summary(&tracker, started);
    if display.is_json() {
        eprintln!("{line}");
    } else {
        out!("{line}");
    }
    match ending {
        Ending::Finished => {
            running.stop().await?;
            Ok(if tracker.failed > 0 {
                ExitCode::from(EXIT_FAILED)
            } else {
                ExitCode::SUCCESS
            })
        }
        Ending::Interrupted => {
            running.stop().await?;
            eprintln!(
                "bgupload: interrupted; {} upload(s) stay queued for the next run",
                tracker.pending_uploads()
            );
            Ok(ExitCode::from(EXIT_INTERRUPTED))
        }
        Ending::EngineStopped => match running.stop().await {
            Err(error) => Err(error),
            Ok(()) => Err(CliError::new("the upload engine stopped unexpectedly")),
        },
    }
}

/// Shows an event; a result is acknowledged once shown.
async fn handle(
    running: &engine::Running,
    tracker: &mut Tracker,
    display: &mut Display,
    event: Event,
) -> CliResult<()> {
    let Event::Terminal(terminal) = &event else {
        display.event(&event, "");
        return Ok(());
    };
    let note = if tracker.is_earlier(terminal.event_id) {
        "delivered again: from an earlier run"
    } else {
        ""
    };
    if tracker.record(terminal) {
        display.event(&event, note);
    }
    running
        .engine
        .acknowledge_event(terminal.event_id)
        .await
        .map_err(|error| {
            CliError::new(format!(
                "cannot acknowledge event {}: {error}",
                terminal.event_id
            ))
        })
}
