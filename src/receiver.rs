//! An embedded HTTP upload receiver, for tests, `bgupload serve` and the demo.
//!
//! It owns one listening socket and a directory. It accepts `POST` and `PUT`
//! on any path: a `multipart/form-data` body has its text fields recorded as
//! parameters and its one file part streamed to disk; any other body is
//! streamed to disk whole. Memory does not grow with the upload's size, and a
//! client's file name never leads outside the directory (files are stored as
//! `<n>-<sanitized base name>`).
//!
//! It answers like the reference plugin's test server: `POST` → 201,
//! `PUT` → 200, with the JSON
//! `{"receivedInfo":{"originalFilename", "headers", "parameters", "fileKey",
//! "size", "sha256"}}`. Every completed upload is also recorded in process
//! ([`Receiver::received`]). Faults for tests (forced status, slow answer,
//! slow reading, size limit) are set in [`ReceiverConfig`], all off by default.
//!
//! Answers on demand, from the upload URL's query ([`AnswerOnDemand`]):
//! `?status=503&retryAfter=2&times=1` answers the first request to that
//! URL 503 with `Retry-After: 2` (after reading the whole body), and the
//! ones after it as usual; without `times`, every request gets it. It is
//! how tests reach 4xx and 503-with-`Retry-After` answers from a real
//! server.

use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

mod limits;
use limits::{BoundedListener, History, bounded_part_headers, next_free_file_number};

/// Path of the upload URL handed out by [`Receiver::url`] (any path is accepted).
pub const UPLOAD_PATH: &str = "/upload";

/// How long [`Receiver::shutdown`] lets requests in flight finish.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// How long after the grace period interrupted requests get to close.
const SHUTDOWN_FORCE_WAIT: Duration = Duration::from_secs(1);

/// Largest text field accepted in a multipart body.
pub const MAX_PARAMETER_BYTES: usize = 1024 * 1024;

/// Largest sum of the text fields of one request (the engine sends at most
/// 1 MiB of parameters in all).
pub const MAX_FIELD_BYTES_PER_REQUEST: usize = 1024 * 1024;

/// Longest part header (the lines before a part's blank line): a header
/// that never ends is refused instead of buffered whole.
pub const MAX_PART_HEADER_BYTES: usize = 16 * 1024;

/// Records kept for [`Receiver::received`]: the newest, at most this many
/// and at most [`MAX_HISTORY_PARAMETER_BYTES`] of their text fields.
pub const MAX_HISTORY: usize = 1024;
pub const MAX_HISTORY_PARAMETER_BYTES: usize = 8 * 1024 * 1024;

/// Default of [`ReceiverConfig::max_body_bytes`] for `bgupload serve`.
pub const DEFAULT_SERVE_MAX_BODY_BYTES: u64 = 16 * 1024 * 1024 * 1024;

/// Default of [`ReceiverConfig::max_connections`].
pub const MAX_CONNECTIONS: usize = 256;

/// Default of [`ReceiverConfig::idle_timeout`].
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Request headers whose values the echo never shows.
const REDACTED_HEADERS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// Most parts read from one multipart body.
pub const MAX_PARTS: usize = 1024;

/// Longest sanitized base name kept in a stored file's name.
const MAX_STORED_NAME_CHARS: usize = 100;

/// Base name used when a client's file name has nothing usable left.
const FALLBACK_STORED_NAME: &str = "upload";

/// How many numbers are tried when a stored name already exists in the directory.
const MAX_STORE_NAME_ATTEMPTS: u32 = 1000;

/// Longest wait the throttle imposes at once; bounds a misconfigured rate.
const MAX_THROTTLE_WAIT: Duration = Duration::from_secs(3600);

/// Where and how the receiver listens, and the test faults it injects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverConfig {
    /// Directory uploads are stored in; created if missing.
    pub dir: PathBuf,
    pub addr: SocketAddr,
    /// Answer this status, after reading the whole body, instead of 201/200.
    pub status_override: Option<u16>,
    /// Wait this long after reading a body before answering.
    pub response_delay: Option<Duration>,
    /// Read request bodies no faster than this (0 counts as 1).
    pub throttle_bytes_per_sec: Option<u64>,
    /// Answer 413 to a body larger than this; `None` is unlimited.
    pub max_body_bytes: Option<u64>,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// Longest silence on a connection (headers, body or keep-alive)
    /// before the receiver closes it.
    pub idle_timeout: Duration,
}

impl ReceiverConfig {
    /// A configuration with every fault off.
    pub fn new(dir: impl Into<PathBuf>, addr: SocketAddr) -> ReceiverConfig {
        ReceiverConfig {
            dir: dir.into(),
            addr,
            status_override: None,
            response_delay: None,
            throttle_bytes_per_sec: None,
            max_body_bytes: None,
            idle_timeout: IDLE_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
        }
    }

    /// Listening on 127.0.0.1 at a port the system picks.
    pub fn loopback(dir: impl Into<PathBuf>) -> ReceiverConfig {
        ReceiverConfig::new(dir, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    }
}

/// One upload the receiver read completely and answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedFile {
    /// Its number among the receiver's answered uploads, from 1 (history
    /// is bounded: old records go, numbers go on).
    pub number: u64,
    /// Where the bytes are, inside the configured directory.
    pub path_on_disk: PathBuf,
    /// The file name the client gave (multipart), or the last path segment (raw).
    pub original_filename: String,
    /// Name of the multipart file part; `None` for a raw body.
    pub file_key: Option<String>,
    pub size: u64,
    /// Lowercase hex SHA-256 of the stored bytes.
    pub sha256: String,
    /// Multipart text fields, in the order received.
    pub parameters: Vec<(String, String)>,
    /// Request headers, names lowercased, repeated values joined with ", ".
    pub headers: BTreeMap<String, String>,
    pub method: String,
    pub request_path: String,
    /// Status the receiver answered.
    pub status: u16,
}

/// A running receiver. Dropping it stops the server abruptly; prefer
/// [`Receiver::shutdown`].
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    graceful_signal: Option<oneshot::Sender<()>>,
    server_task: Option<JoinHandle<io::Result<()>>>,
}

/// State shared by the request handlers and the [`Receiver`] handle.
struct Shared {
    config: ReceiverConfig,
    received: Mutex<History>,
    next_file_number: AtomicU64,
    incomplete_requests: AtomicU64,
    force_stop: watch::Sender<bool>,
    /// Requests answered so far per URL with an on-demand answer.
    on_demand_counts: Mutex<BTreeMap<String, u64>>,
}

/// Most URLs whose on-demand answers are counted (then counting restarts).
pub const MAX_ON_DEMAND_URLS: usize = 1024;

/// An answer a request's URL asks for: `status` (100..=599), an optional
/// `retryAfter` header value, for the first `times` requests to that URL
/// (every one when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerOnDemand {
    pub status: u16,
    pub retry_after: Option<String>,
    pub times: Option<u64>,
}

impl AnswerOnDemand {
    /// The answer a URL query asks for, if it asks for a valid one.
    pub fn from_query(query: &str) -> Option<AnswerOnDemand> {
        let mut answer = AnswerOnDemand {
            status: 0,
            retry_after: None,
            times: None,
        };
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "status" => answer.status = value.parse().ok()?,
                "retryAfter" => answer.retry_after = Some(value.replace("%20", " ")),
                "times" => answer.times = Some(value.parse().ok()?),
                _ => {}
            }
        }
        (100..=599).contains(&answer.status).then_some(answer)
    }
}

impl Receiver {
    /// Creates the directory, binds the address and starts serving.
    pub async fn start(config: ReceiverConfig) -> io::Result<Receiver> {
        tokio::fs::create_dir_all(&config.dir).await?;
        let first_file_number = next_free_file_number(&config.dir)?;
        let listener = tokio::net::TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        let listener = BoundedListener::new(listener, config.max_connections, config.idle_timeout);
        let (force_stop, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            config,
            received: Mutex::new(History::default()),
            next_file_number: AtomicU64::new(first_file_number),
            incomplete_requests: AtomicU64::new(0),
            force_stop,
            on_demand_counts: Mutex::new(BTreeMap::new()),
        });
        let router = Router::new()
            .fallback(handle_request)
            .with_state(Arc::clone(&shared));
        let (graceful_signal, graceful_wait) = oneshot::channel::<()>();
        let server = axum::serve(listener, router).with_graceful_shutdown(async move {
            // A dropped sender also means "stop".
            let _ = graceful_wait.await;
        });
        let server_task = tokio::spawn(server.into_future());
        tracing::info!(%addr, dir = %shared.config.dir.display(), "upload receiver listening");
        Ok(Receiver {
            addr,
            shared,
            graceful_signal: Some(graceful_signal),
            server_task: Some(server_task),
        })
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// An upload URL on this receiver, e.g. `http://127.0.0.1:PORT/upload`.
    pub fn url(&self) -> String {
        format!("http://{}{UPLOAD_PATH}", self.addr)
    }

    pub fn dir(&self) -> &Path {
        &self.shared.config.dir
    }

    /// The uploads read completely, in the order they were answered: the
    /// newest [`MAX_HISTORY`] (fewer when their text fields are large).
    pub fn received(&self) -> Vec<ReceivedFile> {
        let history = self
            .shared
            .received
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        history.records.iter().cloned().collect()
    }

    /// Requests that ended without a complete upload (client gone, malformed
    /// body, size limit, storage failure).
    pub fn incomplete_requests(&self) -> u64 {
        self.shared.incomplete_requests.load(Ordering::Relaxed)
    }

    /// Stops accepting, lets requests in flight finish for up to
    /// [`SHUTDOWN_GRACE`], then interrupts them; returns within about
    /// `SHUTDOWN_GRACE` plus one second.
    pub async fn shutdown(mut self) {
        if let Some(signal) = self.graceful_signal.take() {
            let _ = signal.send(());
        }
        let Some(mut task) = self.server_task.take() else {
            return;
        };
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
            .await
            .is_ok()
        {
            return;
        }
        tracing::warn!("upload receiver: interrupting requests still in flight");
        self.shared.force_stop.send_replace(true);
        if tokio::time::timeout(SHUTDOWN_FORCE_WAIT, &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shared.force_stop.send_replace(true);
        if let Some(task) = self.server_task.take() {
            task.abort();
        }
    }
}

/// Why a request did not yield a stored upload.
#[derive(Debug, thiserror::Error)]
enum ReceiveError {
    #[error("request body exceeds the limit of {limit} bytes")]
    BodyTooLarge { limit: u64 },
    #[error("a text field exceeds the limit of {MAX_PARAMETER_BYTES} bytes")]
    ParameterTooLarge,
    #[error("the text fields exceed the limit of {MAX_FIELD_BYTES_PER_REQUEST} bytes in all")]
    FieldsTooLarge,
    #[error("a part header exceeds the limit of {MAX_PART_HEADER_BYTES} bytes")]
    PartHeaderTooLarge,
    #[error("more than {MAX_PARTS} parts")]
    TooManyParts,
    #[error("reading the request body failed: {0}")]
    Body(#[source] axum::Error),
    #[error("malformed multipart body: {0}")]
    Multipart(#[source] multer::Error),
    #[error("multipart body has no file part")]
    NoFilePart,
    #[error("multipart body has more than one file part")]
    SeveralFileParts,
    #[error("cannot store the upload: {0}")]
    Storage(#[source] io::Error),
    #[error("the receiver is shutting down")]
    ShuttingDown,
}

impl ReceiveError {
    fn status(&self) -> StatusCode {
        match self {
            ReceiveError::BodyTooLarge { .. }
            | ReceiveError::ParameterTooLarge
            | ReceiveError::FieldsTooLarge
            | ReceiveError::PartHeaderTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ReceiveError::TooManyParts
            | ReceiveError::Body(_)
            | ReceiveError::Multipart(_)
            | ReceiveError::NoFilePart
            | ReceiveError::SeveralFileParts => StatusCode::BAD_REQUEST,
            ReceiveError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ReceiveError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// A stored upload, before it is answered and recorded.
struct Upload {
    path_on_disk: PathBuf,
    original_filename: String,
    file_key: Option<String>,
    size: u64,
    sha256: String,
    parameters: Vec<(String, String)>,
}

async fn handle_request(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let method = request.method().clone();
    if method != Method::POST && method != Method::PUT {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "POST, PUT")],
            Json(json!({ "error": "only POST and PUT are accepted" })),
        )
            .into_response();
    }
    let request_path = request.uri().path().to_owned();
    let on_demand = request
        .uri()
        .query()
        .and_then(AnswerOnDemand::from_query)
        .filter(|answer| shared.takes_on_demand(&request.uri().to_string(), answer));
    let headers = collect_headers(request.headers());

    let mut force_stop = shared.force_stop.subscribe();
    let outcome = tokio::select! {
        outcome = receive_upload(&shared, request) => outcome,
        _ = force_stop.wait_for(|stopping| *stopping) => Err(ReceiveError::ShuttingDown),
    };
    let upload = match outcome {
        Ok(upload) => upload,
        Err(error) => {
            shared.incomplete_requests.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%error, path = %request_path, "upload not received");
            return (error.status(), Json(json!({ "error": error.to_string() }))).into_response();
        }
    };

    if let Some(delay) = shared.config.response_delay {
        tokio::time::sleep(delay).await;
    }
    let default_status = if method == Method::POST {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let status = on_demand
        .as_ref()
        .map(|answer| answer.status)
        .or(shared.config.status_override)
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(default_status);
    let retry_after = on_demand.and_then(|answer| answer.retry_after);
    let record = ReceivedFile {
        number: 0,
        path_on_disk: upload.path_on_disk,
        original_filename: upload.original_filename,
        file_key: upload.file_key,
        size: upload.size,
        sha256: upload.sha256,
        parameters: upload.parameters,
        headers,
        method: method.to_string(),
        request_path,
        status: status.as_u16(),
    };
    let answer = echo_json(&record);
    tracing::debug!(
        file = %record.path_on_disk.display(),
        size = record.size,
        status = record.status,
        "upload received"
    );
    shared
        .received
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(record);
    let mut response = (status, Json(answer)).into_response();
    if let Some(value) = retry_after.and_then(|value| value.parse().ok()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

impl Shared {
    /// Whether this request to `url` gets its on-demand answer (counted).
    fn takes_on_demand(&self, url: &str, answer: &AnswerOnDemand) -> bool {
        let mut counts = self
            .on_demand_counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if counts.len() >= MAX_ON_DEMAND_URLS && !counts.contains_key(url) {
            counts.clear();
        }
        let count = counts.entry(url.to_owned()).or_default();
        *count += 1;
        answer.times.is_none_or(|times| *count <= times)
    }
}

/// The reference test server's answer, plus key, size and digest.
fn echo_json(record: &ReceivedFile) -> Value {
    let parameters: serde_json::Map<String, Value> = record
        .parameters
        .iter()
        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
        .collect();
    let headers: BTreeMap<&str, &str> = record
        .headers
        .iter()
        .map(|(name, value)| {
            let shown = if REDACTED_HEADERS.contains(&name.as_str()) {
                "[redacted]"
            } else {
                value.as_str()
            };
            (name.as_str(), shown)
        })
        .collect();
    json!({
        "receivedInfo": {
            "originalFilename": record.original_filename,
            "headers": headers,
            "parameters": parameters,
            "fileKey": record.file_key,
            "size": record.size,
            "sha256": record.sha256,
        }
    })
}

fn collect_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut collected: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        collected
            .entry(name.as_str().to_ascii_lowercase())
            .and_modify(|existing| {
                existing.push_str(", ");
                existing.push_str(&value);
            })
            .or_insert(value);
    }
    collected
}

async fn receive_upload(shared: &Shared, request: Request) -> Result<Upload, ReceiveError> {
    let limit = shared.config.max_body_bytes;
    if let Some(limit) = limit
        && declared_content_length(request.headers()).is_some_and(|declared| declared > limit)
    {
        return Err(ReceiveError::BodyTooLarge { limit });
    }
    let boundary = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .filter(|content_type| {
            content_type
                .get(..MULTIPART_FORM_DATA.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(MULTIPART_FORM_DATA))
        })
        .map(multer::parse_boundary)
        .transpose()
        .map_err(ReceiveError::Multipart)?;
    let raw_name = request
        .uri()
        .path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let limit_exceeded = Arc::new(AtomicBool::new(false));
    let body = metered_body(
        request.into_body(),
        BodyMeter {
            limit,
            bytes_per_sec: shared.config.throttle_bytes_per_sec,
            received: 0,
            started: Instant::now(),
            limit_exceeded: Arc::clone(&limit_exceeded),
        },
    );
    match boundary {
        Some(boundary) => receive_multipart(shared, body, boundary, &limit_exceeded).await,
        None => {
            let stored = store_file(shared, &raw_name, body).await?;
            Ok(Upload {
                path_on_disk: stored.path,
                original_filename: raw_name,
                file_key: None,
                size: stored.size,
                sha256: stored.sha256,
                parameters: Vec::new(),
            })
        }
    }
}

const MULTIPART_FORM_DATA: &str = "multipart/form-data";

fn declared_content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.trim().parse().ok())
}

async fn receive_multipart(
    shared: &Shared,
    body: impl Stream<Item = Result<Bytes, ReceiveError>> + Send + 'static,
    boundary: String,
    limit_exceeded: &AtomicBool,
) -> Result<Upload, ReceiveError> {
    let header_too_long = Arc::new(AtomicBool::new(false));
    let multipart_error = |error: multer::Error| {
        if limit_exceeded.load(Ordering::Relaxed) {
            ReceiveError::BodyTooLarge {
                limit: shared.config.max_body_bytes.unwrap_or(u64::MAX),
            }
        } else if header_too_long.load(Ordering::Relaxed) {
            ReceiveError::PartHeaderTooLarge
        } else {
            ReceiveError::Multipart(error)
        }
    };
    let body = bounded_part_headers(body, &boundary, Arc::clone(&header_too_long));
    let mut multipart = multer::Multipart::new(body, boundary);
    let mut parameters = Vec::new();
    let mut field_bytes = 0usize;
    // A refusal after the file part was stored removes it (PartialFile).
    let mut file: Option<(String, Option<String>, StoredFile, PartialFile)> = None;
    let mut parts_read = 0;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        parts_read += 1;
        if parts_read > MAX_PARTS {
            return Err(ReceiveError::TooManyParts);
        }
        let name = field.name().map(str::to_owned);
        match field.file_name().map(str::to_owned) {
            Some(original_filename) => {
                if file.is_some() {
                    return Err(ReceiveError::SeveralFileParts);
                }
                let chunks = field.map(|chunk| chunk.map_err(multipart_error));
                let (stored, kept) = store_file_kept(shared, &original_filename, chunks).await?;
                file = Some((original_filename, name, stored, kept));
            }
            None => {
                let mut value = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    if value.len() + chunk.len() > MAX_PARAMETER_BYTES {
                        return Err(ReceiveError::ParameterTooLarge);
                    }
                    field_bytes += chunk.len();
                    if field_bytes > MAX_FIELD_BYTES_PER_REQUEST {
                        return Err(ReceiveError::FieldsTooLarge);
                    }
                    value.extend_from_slice(&chunk);
                }
                let value = String::from_utf8_lossy(&value).into_owned();
                parameters.push((name.unwrap_or_default(), value));
            }
        }
    }
    let (original_filename, file_key, stored, mut kept) = file.ok_or(ReceiveError::NoFilePart)?;
    kept.complete = true;
    Ok(Upload {
        path_on_disk: stored.path,
        original_filename,
        file_key,
        size: stored.size,
        sha256: stored.sha256,
        parameters,
    })
}

/// Byte counting, size limit and throttling of one request body.
struct BodyMeter {
    limit: Option<u64>,
    bytes_per_sec: Option<u64>,
    received: u64,
    started: Instant,
    limit_exceeded: Arc<AtomicBool>,
}

impl BodyMeter {
    /// Counts a chunk; an error once the limit is passed.
    fn count(&mut self, length: usize) -> Result<(), ReceiveError> {
        self.received += length as u64;
        match self.limit {
            Some(limit) if self.received > limit => {
                self.limit_exceeded.store(true, Ordering::Relaxed);
                Err(ReceiveError::BodyTooLarge { limit })
            }
            _ => Ok(()),
        }
    }

    /// When the bytes counted so far may have arrived at the throttled rate.
    fn throttle_deadline(&self) -> Option<Instant> {
        let rate = self.bytes_per_sec?.max(1);
        let wait = Duration::try_from_secs_f64(self.received as f64 / rate as f64)
            .unwrap_or(MAX_THROTTLE_WAIT)
            .min(MAX_THROTTLE_WAIT);
        Some(self.started + wait)
    }
}

/// The request body as chunks, counted, limited and throttled; ends after
/// the first error.
fn metered_body(
    body: axum::body::Body,
    meter: BodyMeter,
) -> impl Stream<Item = Result<Bytes, ReceiveError>> + Send + 'static {
    let data = body.into_data_stream();
    futures_util::stream::unfold(
        (data, meter, false),
        |(mut data, mut meter, failed)| async move {
            if failed {
                return None;
            }
            let chunk = match data.next().await? {
                Ok(chunk) => chunk,
                Err(error) => return Some((Err(ReceiveError::Body(error)), (data, meter, true))),
            };
            if let Err(error) = meter.count(chunk.len()) {
                return Some((Err(error), (data, meter, true)));
            }
            if let Some(deadline) = meter.throttle_deadline() {
                tokio::time::sleep_until(deadline).await;
            }
            Some((Ok(chunk), (data, meter, false)))
        },
    )
}

struct StoredFile {
    path: PathBuf,
    size: u64,
    sha256: String,
}

/// Removes a file being written unless it was completed (also when the
/// request is dropped mid-body).
struct PartialFile {
    path: PathBuf,
    complete: bool,
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if !self.complete {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Streams `chunks` into a new file in the receiver's directory.
async fn store_file(
    shared: &Shared,
    original_filename: &str,
    chunks: impl Stream<Item = Result<Bytes, ReceiveError>>,
) -> Result<StoredFile, ReceiveError> {
    let (stored, mut kept) = store_file_kept(shared, original_filename, chunks).await?;
    kept.complete = true;
    Ok(stored)
}

/// [`store_file`], with the file still removed on drop until the caller
/// marks its guard complete (the rest of the request may still fail).
async fn store_file_kept(
    shared: &Shared,
    original_filename: &str,
    chunks: impl Stream<Item = Result<Bytes, ReceiveError>>,
) -> Result<(StoredFile, PartialFile), ReceiveError> {
    let (partial, mut file) = create_unique_file(shared, original_filename).await?;
    let mut chunks = std::pin::pin!(chunks);
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        hasher.update(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(ReceiveError::Storage)?;
        size += chunk.len() as u64;
    }
    file.flush().await.map_err(ReceiveError::Storage)?;
    drop(file);
    let stored = StoredFile {
        path: partial.path.clone(),
        size,
        sha256: hex::encode(hasher.finalize()),
    };
    Ok((stored, partial))
}

async fn create_unique_file(
    shared: &Shared,
    original_filename: &str,
) -> Result<(PartialFile, tokio::fs::File), ReceiveError> {
    let base_name = sanitize_file_name(original_filename);
    for _ in 0..MAX_STORE_NAME_ATTEMPTS {
        let number = shared.next_file_number.fetch_add(1, Ordering::Relaxed);
        let path = shared.config.dir.join(format!("{number}-{base_name}"));
        match tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
        {
            Ok(file) => {
                let partial = PartialFile {
                    path,
                    complete: false,
                };
                return Ok((partial, file));
            }
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(ReceiveError::Storage(error)),
        }
    }
    Err(ReceiveError::Storage(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free file name in the receiver directory",
    )))
}

/// A client's file name reduced to a safe base name: the last `/` or `\`
/// segment, ASCII letters, digits, `.`, `-` and `_` kept, other characters
/// replaced by `_`, control characters dropped, no leading dot, bounded length.
pub fn sanitize_file_name(original: &str) -> String {
    let base = original.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|character| !character.is_control())
        .map(|character| {
            if character.is_ascii_alphanumeric() || matches!(character, '.' | '-' | '_') {
                character
            } else {
                '_'
            }
        })
        .take(MAX_STORED_NAME_CHARS)
        .collect();
    let without_leading_dots = cleaned.trim_start_matches('.');
    if without_leading_dots.is_empty() {
        FALLBACK_STORED_NAME.to_owned()
    } else {
        without_leading_dots.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_sanitized() {
        assert_eq!(sanitize_file_name("photo.jpg"), "photo.jpg");
        assert_eq!(sanitize_file_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_file_name("..\\..\\boot.ini"), "boot.ini");
        assert_eq!(sanitize_file_name(".."), FALLBACK_STORED_NAME);
        assert_eq!(sanitize_file_name(""), FALLBACK_STORED_NAME);
        assert_eq!(sanitize_file_name("dir/"), FALLBACK_STORED_NAME);
        assert_eq!(sanitize_file_name(".hidden"), "hidden");
        assert_eq!(sanitize_file_name("a b\"c\r\n.txt"), "a_b_c.txt");
        assert_eq!(sanitize_file_name("naïve.txt"), "na_ve.txt");
        assert_eq!(
            sanitize_file_name(&"x".repeat(500)).len(),
            MAX_STORED_NAME_CHARS
        );
    }

    #[test]
    fn repeated_headers_are_joined_and_names_lowercased() {
        let mut headers = HeaderMap::new();
        headers.append("X-Thing", "a".parse().unwrap());
        headers.append("x-thing", "b".parse().unwrap());
        headers.append("Authorization", "Bearer t".parse().unwrap());
        let collected = collect_headers(&headers);
        assert_eq!(collected["x-thing"], "a, b");
        assert_eq!(collected["authorization"], "Bearer t");
    }
}
