//! Commands that change or show the queue without sending anything:
//! `add`, `list`, `events`, `ack`, `remove`. Each starts an engine with the
//! network marked unreachable, so no transfer starts from here.

use super::display::{self, Display, human_bytes};
use super::engine;
use super::{AddArgs, CliResult, Context, EXIT_FAILED, NetworkArg, StatusPolicyArg};
use bgupload_fsm::validate::acknowledged_event;
use bgupload_fsm::{BodyFormat, Event, Machine, NetworkState, Options, Time, UploadPayload};
use bgupload_io::CommandError;
use std::path::Path;
use std::process::ExitCode;
use std::time::SystemTime;
use tokio::sync::mpsc;

/// `bgupload add FILE --url URL …`: queues the file durably, prints its id.
pub async fn add(data_dir: &Path, args: AddArgs) -> CliResult<ExitCode> {
    let file_path = std::path::absolute(&args.file)
        .context(format!("cannot make {} absolute", args.file.display()))?
        .to_string_lossy()
        .into_owned();
    let id = args
        .id
        .unwrap_or_else(|| uuid::Uuid::new_v4().hyphenated().to_string());
    let payload = UploadPayload {
        id: Some(id.clone()),
        file_path: Some(file_path),
        file_key: args.file_key,
        server_url: Some(args.url),
        headers: args.headers,
        parameters: args.fields,
        notification_title: None,
        request_method: Some(args.method.as_str().to_owned()),
        body_format: if args.raw {
            BodyFormat::Raw
        } else {
            BodyFormat::Multipart
        },
        status_policy: args.status_policy.map(StatusPolicyArg::policy),
        idempotency_key: args.idempotency_key.then_some(true),
        network: args.network.map(NetworkArg::requirement),
    };
    let store = engine::open_store(data_dir)?;
    let running = engine::start(store, false).await?;
    match running.engine.start_upload(payload).await {
        Ok(()) => {
            running.stop().await?;
            out!("{id}");
            Ok(ExitCode::SUCCESS)
        }
        Err(CommandError::Rejected(rejection)) => {
            running.stop().await?;
            eprintln!("bgupload: upload refused: {}", display::refusal(&rejection));
            Ok(ExitCode::from(EXIT_FAILED))
        }
        Err(error) => Err(running.explain("cannot queue the upload", error).await),
    }
}

/// `bgupload list`: the uploads that have not ended, in start order, as
/// the machine sees them (rebuilt from the queue, nothing written); with
/// `--json`, the listing `getUploads` answers, as one JSON object.
pub fn list(data_dir: &Path, json: bool) -> CliResult<ExitCode> {
    let store = engine::open_store(data_dir)?;
    let recovered = engine::peek(&store)?;
    let offline = Options {
        network: NetworkState::UNREACHABLE,
        ..Options::new(bgupload_io::fresh_seed())
    };
    let machine = Machine::recover(offline, recovered, Time::ZERO);
    let listing = bgupload_io::listing::listing(&machine, Time::ZERO, SystemTime::now());
    if json {
        out!("{}", listing.to_json());
        return Ok(ExitCode::SUCCESS);
    }
    for upload in &listing.uploads {
        let size = std::fs::metadata(&upload.file_path)
            .map_or_else(|_| "missing".to_owned(), |meta| human_bytes(meta.len()));
        out!(
            "{}  {}  {}  {}  ({size})",
            upload.id,
            upload.state,
            upload.server_url,
            upload.file_path
        );
    }
    if listing.uploads.is_empty() {
        out!("no queued uploads");
    }
    if listing.unacknowledged_events > 0 {
        out!(
            "{} unacknowledged events (bgupload events)",
            listing.unacknowledged_events
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What `bgupload pause`, `resume` and `update-headers` do to one upload.
pub enum UploadChange {
    Pause,
    Resume,
    Headers(Vec<(String, String)>),
}

/// `bgupload pause ID`, `resume ID`, `update-headers ID --header …`: one
/// command, durable before this returns; an unknown id changes nothing
/// (but `update-headers` is refused for it).
pub async fn change(data_dir: &Path, id: &str, change: UploadChange) -> CliResult<ExitCode> {
    let store = engine::open_store(data_dir)?;
    let running = engine::start(store, false).await?;
    let (result, done) = match change {
        UploadChange::Pause => (running.engine.pause_upload(id).await, "paused"),
        UploadChange::Resume => (running.engine.resume_upload(id).await, "resumed"),
        UploadChange::Headers(headers) => (
            running.engine.update_headers(id, headers).await,
            "new headers stored for",
        ),
    };
    match result {
        Ok(()) => {
            running.stop().await?;
            out!("{done} upload {id}");
            Ok(ExitCode::SUCCESS)
        }
        Err(CommandError::Rejected(rejection)) => {
            running.stop().await?;
            eprintln!("bgupload: {}", display::refusal(&rejection));
            Ok(ExitCode::from(EXIT_FAILED))
        }
        Err(error) => Err(running.explain("cannot change the upload", error).await),
    }
}

/// `bgupload events`: every unacknowledged result, delivered again by
/// `init` and printed; nothing is acknowledged.
pub async fn events(data_dir: &Path, json: bool) -> CliResult<ExitCode> {
    let store = engine::open_store(data_dir)?;
    let config = engine::stored_config(&engine::peek(&store)?);
    let running = engine::start(store, false).await?;
    let (sender, mut delivered) = mpsc::unbounded_channel();
    let sink = Box::new(move |event: Event| {
        let _ = sender.send(event);
    });
    // `init` returns once every stored event was handed to the sink.
    if let Err(error) = running.engine.init(config, sink).await {
        return Err(running.explain("cannot read the events", error).await);
    }
    running.stop().await?;
    let mut display = Display::new(json);
    let mut count = 0;
    while let Ok(event) = delivered.try_recv() {
        if matches!(event, Event::Terminal(_)) {
            count += 1;
            display.event(&event, "");
        }
    }
    if !json && count == 0 {
        out!("no unacknowledged events");
    }
    Ok(ExitCode::SUCCESS)
}

/// `bgupload ack EVENT_ID`: an id this engine never issued succeeds and
/// changes nothing, as `acknowledgeEvent` does.
pub async fn ack(data_dir: &Path, text: &str) -> CliResult<ExitCode> {
    let event_id = match acknowledged_event(text) {
        Ok(event_id) => event_id,
        Err(message) => {
            eprintln!("bgupload: {message}");
            return Ok(ExitCode::from(EXIT_FAILED));
        }
    };
    let Some(event_id) = event_id else {
        out!("no event {}: nothing to acknowledge", text);
        return Ok(ExitCode::SUCCESS);
    };
    let store = engine::open_store(data_dir)?;
    let running = engine::start(store, false).await?;
    match running.engine.acknowledge_event(event_id).await {
        Ok(()) => {
            running.stop().await?;
            out!("acknowledged event {event_id}");
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => Err(running.explain("cannot acknowledge the event", error).await),
    }
}

/// `bgupload remove ID`: cancels a queued upload; its FAILED -999 event
/// is stored until acknowledged.
pub async fn remove(data_dir: &Path, id: &str) -> CliResult<ExitCode> {
    let store = engine::open_store(data_dir)?;
    let queued = engine::peek(&store)?
        .uploads
        .iter()
        .any(|record| record.request.id.as_str() == id);
    let running = engine::start(store, false).await?;
    match running.engine.remove_upload(id).await {
        Ok(()) => {
            running.stop().await?;
            if queued {
                out!(
                    "removed upload {id}: it ends as FAILED -999, an event kept until acknowledged"
                );
            } else {
                out!("no queued upload {id}: nothing to remove");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => Err(running.explain("cannot remove the upload", error).await),
    }
}
