//! Commands that change or show the queue without sending anything:
//! `add`, `list`, `events`, `ack`, `remove`. Each starts an engine with the
//! network marked unreachable, so no transfer starts from here.

use super::display::{self, Display, human_bytes};
use super::engine;
use super::{AddArgs, CliResult, Context, EXIT_FAILED};
use bgupload_fsm::validate::acknowledged_event;
use bgupload_fsm::{BodyFormat, Event, UploadPayload};
use bgupload_io::CommandError;
use bgupload_io::transport::loggable_url;
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;
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
            let code = rejection
                .error_code
                .map(|code| format!(" (errorCode {code})"))
                .unwrap_or_default();
            eprintln!(
                "bgupload: upload refused: {}{code}",
                display::escaped(&rejection.error)
            );
            Ok(ExitCode::from(EXIT_FAILED))
        }
        Err(error) => Err(running.explain("cannot queue the upload", error).await),
    }
}

/// `bgupload list`: the uploads that have not ended, in start order.
pub fn list(data_dir: &Path, json: bool) -> CliResult<ExitCode> {
    let store = engine::open_store(data_dir)?;
    let mut recovered = engine::peek(&store)?;
    recovered.uploads.sort_by_key(|record| record.sequence);
    for record in &recovered.uploads {
        let request = &record.request;
        let size = std::fs::metadata(&request.file_path).map(|meta| meta.len());
        if json {
            let line = json!({
                "id": request.id.as_str(),
                "filePath": request.file_path,
                "fileKey": request.file_key,
                // Never the URL's userinfo or query (signatures, tokens).
                "serverUrl": loggable_url(&request.server_url),
                "requestMethod": request.method.as_str(),
                "size": size.as_ref().ok(),
                "attempts": record.last_attempt.map_or(0, |attempt| attempt.0),
            });
            out!("{line}");
        } else {
            let size = size.map_or_else(|_| "missing".to_owned(), human_bytes);
            out!(
                "{}  {} {}  {}  ({size})",
                request.id,
                request.method.as_str(),
                loggable_url(&request.server_url),
                request.file_path
            );
        }
    }
    if !json && recovered.uploads.is_empty() {
        out!("no queued uploads");
    }
    Ok(ExitCode::SUCCESS)
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
