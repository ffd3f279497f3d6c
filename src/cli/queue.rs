//! Commands that change or show the queue without sending anything:
//! `add`, `list`, `events`, `ack`, `remove`. Each starts an engine with the
//! network marked unreachable, so no transfer starts from here.

use super::display::{self, Display, human_bytes};
use super::engine;
use super::{AddArgs, CliError, CliResult, Context, EXIT_FAILED, NetworkArg, StatusPolicyArg};
use bgupload_fsm::validate::acknowledged_event;
use bgupload_fsm::{
    BodyFormat, Event, Machine, NetworkState, Options, Time, UploadPayload, UploadState,
};
use bgupload_io::CommandError;
use std::path::Path;
use std::process::ExitCode;
use std::time::SystemTime;
use tokio::sync::mpsc;

/// Most files one `bgupload add` queues (the engine's own limit of
/// unfinished uploads).
pub const MAX_FILES_PER_ADD: usize = 10_000;
/// Most directory entries `--recursive` looks at.
pub const MAX_ENTRIES_WALKED: usize = 1_000_000;

/// `bgupload add FILE… [--recursive DIR] --url URL …`: queues every file
/// durably in one engine, all calls in flight at once, so the driver
/// group-commits them (one fsync per round); prints one id per file, in
/// order. A refused file is named on stderr; the others are queued.
pub async fn add(data_dir: &Path, mut args: AddArgs) -> CliResult<ExitCode> {
    let mut files = std::mem::take(&mut args.files);
    if let Some(dir) = &args.recursive {
        files.extend(files_under(dir)?);
    }
    if files.len() > MAX_FILES_PER_ADD {
        return Err(CliError::new(format!(
            "{} files: one add queues at most {MAX_FILES_PER_ADD}",
            files.len()
        )));
    }
    if args.id.is_some() && files.len() != 1 {
        return Err(CliError::new(
            "--id names one upload: give exactly one FILE",
        ));
    }
    let mut payloads = Vec::with_capacity(files.len());
    for file in &files {
        payloads.push(add_payload(&args, file)?);
    }
    let store = engine::open_store(data_dir)?;
    let running = engine::start(store, false).await?;
    let engine = &running.engine;
    let answers = futures_util::future::join_all(payloads.into_iter().map(|payload| async move {
        let id = payload.id.clone().unwrap_or_default();
        (id, engine.start_upload(payload).await)
    }))
    .await;
    let mut refused = 0;
    let several = files.len() > 1;
    for ((id, answer), file) in answers.into_iter().zip(&files) {
        match answer {
            Ok(()) => out!("{id}"),
            Err(CommandError::Rejected(rejection)) => {
                refused += 1;
                // With several files, which one it was.
                let which = match several {
                    true => format!(" of {}", display::escaped(&file.display().to_string())),
                    false => String::new(),
                };
                eprintln!(
                    "bgupload: upload{which} refused: {}",
                    display::refusal(&rejection)
                );
            }
            Err(error) => return Err(running.explain("cannot queue the upload", error).await),
        }
    }
    running.stop().await?;
    Ok(if refused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}

/// The payload of one file of `bgupload add`.
fn add_payload(args: &AddArgs, file: &Path) -> CliResult<UploadPayload> {
    let file_path = std::path::absolute(file)
        .context(format!("cannot make {} absolute", file.display()))?
        .to_string_lossy()
        .into_owned();
    let id = args
        .id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().hyphenated().to_string());
    Ok(UploadPayload {
        id: Some(id),
        file_path: Some(file_path),
        file_key: args.file_key.clone(),
        server_url: Some(args.url.clone()),
        headers: args.headers.clone(),
        parameters: args.fields.clone(),
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
    })
}

/// Every regular file under `dir`, in name order, without following
/// symbolic links; at most [`MAX_ENTRIES_WALKED`] entries are looked at.
fn files_under(dir: &Path) -> CliResult<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    let mut directories = vec![dir.to_path_buf()];
    let mut walked = 0usize;
    while let Some(directory) = directories.pop() {
        let entries = std::fs::read_dir(&directory)
            .context(format!("cannot read the directory {}", directory.display()))?;
        let mut names: Vec<_> = entries.filter_map(Result::ok).collect();
        names.sort_by_key(std::fs::DirEntry::file_name);
        // Subdirectories in name order: pushed reversed onto the stack.
        let mut subdirectories = Vec::new();
        for entry in names {
            walked += 1;
            if walked > MAX_ENTRIES_WALKED {
                return Err(CliError::new(format!(
                    "more than {MAX_ENTRIES_WALKED} entries under {}",
                    dir.display()
                )));
            }
            match entry.file_type() {
                Ok(kind) if kind.is_file() => files.push(entry.path()),
                Ok(kind) if kind.is_dir() => subdirectories.push(entry.path()),
                _ => {}
            }
        }
        directories.extend(subdirectories.into_iter().rev());
    }
    Ok(files)
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
    let mut listing = bgupload_io::listing::listing(&machine, Time::ZERO, SystemTime::now());
    // This process sends nothing, so its machine sees no network: what
    // waits here is queued for `bgupload run`, whatever network it needs.
    for upload in &mut listing.uploads {
        if upload.state == UploadState::WaitingForNetwork.as_str() {
            upload.state = UploadState::Queued.as_str();
        }
    }
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
