//! HTTP over turmoil's network: the client side of one attempt (hyper,
//! since reqwest cannot use turmoil's sockets; the body framing is
//! `bgupload_io::multipart`'s, the same the real transport sends) and the
//! simulated upload server.

use crate::scenario::Rng;
use bgupload_fsm::ErrorCode;
use bgupload_fsm::{Method, TransferReport, UploadRequest};
use bgupload_io::multipart::Body;
use bgupload_io::transport::body_spec;
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const SERVER_HOST: &str = "server";
pub const SERVER_PORT: u16 = 80;
/// Header the app adds so the server can tell uploads apart.
pub const UPLOAD_ID_HEADER: &str = "x-upload-id";
/// Header the simulated app adds: which start of an upload id a request
/// belongs to (the plan may start an id twice).
pub const START_HEADER: &str = "x-sim-start";
const CHUNK_BYTES: usize = 4 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_REQUEST_BYTES: usize = 1024 * 1024;
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Sends one attempt of `request` with `file` as the file's bytes; calls
/// `progress(sent, total)` as chunks are handed to the connection.
pub async fn send(
    request: &UploadRequest,
    file: Bytes,
    boundary_seed: u64,
    progress: impl Fn(u64, u64) + Send + Sync + 'static,
) -> TransferReport {
    let body = Body::framed(&body_spec(request), file.len() as u64, boundary_seed);
    let Some(http_request) = http_request(request, &body, file, progress) else {
        return TransferReport::failed(
            "cannot build the request".to_owned(),
            ErrorCode::BadUrl.code(),
            true,
        );
    };
    exchange(http_request).await
}

/// The request, its body streamed in chunks of the file with progress.
fn http_request<P: Fn(u64, u64) + Send + Sync + 'static>(
    request: &UploadRequest,
    body: &Body,
    file: Bytes,
    progress: P,
) -> Option<hyper::Request<impl hyper::body::Body<Data = Bytes, Error = Infallible> + Send + use<P>>>
{
    let total = body.content_length();
    let mut pieces = vec![body.preamble().clone()];
    let mut offset = 0;
    while offset < file.len() {
        let end = (offset + CHUNK_BYTES).min(file.len());
        pieces.push(file.slice(offset..end));
        offset = end;
    }
    pieces.push(body.epilogue().clone());
    let mut sent = 0u64;
    let stream = futures_util::stream::iter(pieces).map(move |piece| {
        sent += piece.len() as u64;
        progress(sent, total);
        Ok::<Frame<Bytes>, Infallible>(Frame::data(piece))
    });
    let path = request
        .server_url
        .splitn(4, '/')
        .nth(3)
        .map_or_else(|| "/".to_owned(), |rest| format!("/{rest}"));
    let mut builder = hyper::Request::builder()
        .method(match request.method {
            Method::Post => hyper::Method::POST,
            Method::Put => hyper::Method::PUT,
        })
        .uri(path)
        .header(hyper::header::HOST, SERVER_HOST)
        .header(hyper::header::CONTENT_TYPE, body.content_type())
        .header(hyper::header::CONTENT_LENGTH, total);
    for (name, value) in request.headers_to_send() {
        builder = builder.header(name, value);
    }
    builder.body(StreamBody::new(stream)).ok()
}

/// Connects to the server, sends, and reads the answer within the
/// timeouts.
async fn exchange(
    http_request: hyper::Request<
        impl hyper::body::Body<Data = Bytes, Error = Infallible> + Send + 'static,
    >,
) -> TransferReport {
    let connect = turmoil::net::TcpStream::connect((SERVER_HOST, SERVER_PORT));
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Err(_) => {
            return TransferReport::failed(
                "connect timed out".to_owned(),
                ErrorCode::TimedOut.code(),
                true,
            );
        }
        Ok(Err(error)) => {
            return TransferReport::failed(
                format!("connect: {error}"),
                ErrorCode::CannotConnectToHost.code(),
                true,
            );
        }
        Ok(Ok(stream)) => stream,
    };
    let (mut sender, connection) =
        match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await {
            Ok(pair) => pair,
            Err(error) => {
                return TransferReport::failed(
                    format!("handshake: {error}"),
                    ErrorCode::NetworkConnectionLost.code(),
                    true,
                );
            }
        };
    let connection = tokio::spawn(connection);
    let exchange = async {
        let response = sender
            .send_request(http_request)
            .await
            .map_err(|error| format!("request: {error}"))?;
        let status = response.status().as_u16();
        // The simulator's server sends seconds; a date would be read
        // against the epoch (deterministic either way).
        let retry_after_millis =
            bgupload_io::retry_after::from_headers(response.headers(), std::time::UNIX_EPOCH);
        let collected = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|error| format!("response body: {error}"))?;
        Ok::<_, String>((status, collected.to_bytes(), retry_after_millis))
    };
    let outcome = tokio::time::timeout(RESPONSE_TIMEOUT, exchange).await;
    connection.abort();
    match outcome {
        Err(_) => TransferReport::failed(
            "no response in time".to_owned(),
            ErrorCode::TimedOut.code(),
            true,
        ),
        Ok(Err(message)) => {
            TransferReport::failed(message, ErrorCode::NetworkConnectionLost.code(), true)
        }
        Ok(Ok((status, body, retry_after_millis))) => TransferReport::Response {
            status,
            body: body.to_vec(),
            truncated: false,
            retry_after_millis,
        },
    }
}

/// One request the server read in full.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reception {
    pub upload_id: String,
    /// The file part's bytes (or the whole raw body).
    pub file: Bytes,
    /// Whether the server answered (it may drop the connection instead).
    pub answered: bool,
    /// The request's `Idempotency-Key`, if it had one.
    pub key: Option<String>,
    /// Which start of the upload id sent it ([`START_HEADER`]).
    pub start: String,
    /// Whether the server stored this body as an upload (a logical
    /// reception): not when it answered 503, and not for a key it had
    /// stored already (it answers that key's first answer again).
    pub stored: bool,
    /// A key the server had stored: it answered that key's first answer.
    pub replayed: bool,
}

/// What the server saw, shared with the checker.
#[derive(Debug, Default)]
pub struct ServerLog {
    pub receptions: Vec<Reception>,
    /// The answer the server gave each key it stored, for the retries.
    pub answers_by_key: BTreeMap<String, (u16, Bytes)>,
    /// Requests whose body could not be parsed as the multipart it claimed.
    pub malformed: Vec<String>,
}

/// Duplicate receptions at the server, by whether the upload had a key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Duplicates {
    /// Bodies received again for an upload received before.
    pub received_again_unkeyed: u64,
    /// Of those, stored as another copy.
    pub stored_again_unkeyed: u64,
    pub received_again_keyed: u64,
    pub stored_again_keyed: u64,
}

impl Duplicates {
    pub fn add(&mut self, other: Duplicates) {
        self.received_again_unkeyed += other.received_again_unkeyed;
        self.stored_again_unkeyed += other.stored_again_unkeyed;
        self.received_again_keyed += other.received_again_keyed;
        self.stored_again_keyed += other.stored_again_keyed;
    }
}

impl ServerLog {
    /// Receptions beyond the first of each upload (503 answers excluded:
    /// the server refused those), and stored copies beyond the first.
    pub fn duplicates(&self) -> Duplicates {
        let mut counts = Duplicates::default();
        // One logical upload: one start of one id.
        let mut received: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        let mut stored: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for reception in &self.receptions {
            let keyed = reception.key.is_some();
            // A refused (503) body was not taken: not a reception.
            if !reception.stored && !reception.replayed {
                continue;
            }
            let upload = (reception.upload_id.as_str(), reception.start.as_str());
            let seen = received.entry(upload).or_default();
            *seen += 1;
            if *seen > 1 {
                match keyed {
                    true => counts.received_again_keyed += 1,
                    false => counts.received_again_unkeyed += 1,
                }
            }
            if reception.stored {
                let copies = stored.entry(upload).or_default();
                *copies += 1;
                if *copies > 1 {
                    match keyed {
                        true => counts.stored_again_keyed += 1,
                        false => counts.stored_again_unkeyed += 1,
                    }
                }
            }
        }
        counts
    }
}

/// How the server misbehaves (per request, per million).
#[derive(Clone, Debug)]
pub struct ServerFaults {
    pub error: u64,
    pub slow: u64,
    pub drop_after_body: u64,
}

/// Runs the upload server until the host is stopped.
pub async fn serve(
    log: Arc<Mutex<ServerLog>>,
    faults: ServerFaults,
    rng: Arc<Mutex<Rng>>,
) -> turmoil::Result {
    let listener = turmoil::net::TcpListener::bind(("0.0.0.0", SERVER_PORT)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let log = log.clone();
        let faults = faults.clone();
        let rng = rng.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                handle(request, log.clone(), faults.clone(), rng.clone())
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    request: hyper::Request<Incoming>,
    log: Arc<Mutex<ServerLog>>,
    faults: ServerFaults,
    rng: Arc<Mutex<Rng>>,
) -> Result<hyper::Response<Full<Bytes>>, String> {
    let upload_id = request
        .headers()
        .get(UPLOAD_ID_HEADER)
        // Ids are any text, so the header may carry UTF-8 (obs-text).
        .and_then(|value| std::str::from_utf8(value.as_bytes()).ok())
        .unwrap_or("")
        .to_owned();
    let content_type = request
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let method_is_put = request.method() == hyper::Method::PUT;
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let key = header(bgupload_fsm::validate::IDEMPOTENCY_KEY_HEADER);
    let start = header(START_HEADER).unwrap_or_default();
    let body = Limited::new(request.into_body(), MAX_REQUEST_BYTES)
        .collect()
        .await
        .map_err(|error| format!("body: {error}"))?
        .to_bytes();
    let file = match multer::parse_boundary(&content_type) {
        Ok(boundary) => match file_part(body, boundary).await {
            Ok(file) => file,
            Err(reason) => {
                if let Ok(mut log) = log.lock() {
                    log.malformed.push(format!("{upload_id}: {reason}"));
                }
                return Err(reason);
            }
        },
        Err(_) => body,
    };
    let (drop_it, error, slow_millis, retry_after) = {
        let mut rng = rng.lock().map_err(|_| "rng poisoned".to_owned())?;
        let drop_it = rng.chance(faults.drop_after_body);
        let error = rng.chance(faults.error);
        let slow_millis = if rng.chance(faults.slow) {
            rng.range(100, 20_000)
        } else {
            0
        };
        let retry_after = rng.chance(500_000).then(|| rng.range(0, 4));
        (drop_it, error, slow_millis, retry_after)
    };
    let status = if error {
        503
    } else if method_is_put {
        200
    } else {
        201
    };
    let answer = Bytes::from(format!(
        "{{\"id\":\"{upload_id}\",\"size\":{}}}",
        file.len()
    ));
    // A key stored already: the first answer again, nothing stored.
    let replayed = {
        let mut log = log.lock().map_err(|_| "log poisoned".to_owned())?;
        let replayed = key
            .as_ref()
            .and_then(|key| log.answers_by_key.get(key).cloned());
        let stored = !error && replayed.is_none();
        if let (true, Some(key)) = (stored, &key) {
            log.answers_by_key
                .insert(key.clone(), (status, answer.clone()));
        }
        log.receptions.push(Reception {
            upload_id: upload_id.clone(),
            file: file.clone(),
            answered: !drop_it,
            key: key.clone(),
            start,
            stored,
            replayed: replayed.is_some(),
        });
        replayed
    };
    if drop_it {
        // The whole body arrived; the connection dies before an answer.
        return Err("dropped after the body".to_owned());
    }
    if slow_millis > 0 {
        tokio::time::sleep(Duration::from_millis(slow_millis)).await;
    }
    let (status, answer) = replayed.unwrap_or((status, answer));
    let mut response = hyper::Response::builder().status(status);
    if let (503, Some(seconds)) = (status, retry_after) {
        response = response.header(hyper::header::RETRY_AFTER, seconds);
    }
    response
        .body(Full::new(answer))
        .map_err(|error| error.to_string())
}

async fn file_part(body: Bytes, boundary: String) -> Result<Bytes, String> {
    let stream = futures_util::stream::once(async move { Ok::<Bytes, Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut fields = BTreeMap::new();
    let mut file = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|error| format!("multipart: {error}"))?
    {
        let is_file = field.file_name().is_some();
        let name = field.name().unwrap_or("").to_owned();
        let bytes = field
            .bytes()
            .await
            .map_err(|error| format!("multipart field: {error}"))?;
        if is_file {
            file = Some(bytes);
        } else {
            fields.insert(name, bytes);
        }
    }
    file.ok_or_else(|| "no file part".to_owned())
}
