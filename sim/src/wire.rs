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
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
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
        let collected = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|error| format!("response body: {error}"))?;
        Ok::<_, String>((status, collected.to_bytes()))
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
        Ok(Ok((status, body))) => TransferReport::Response {
            status,
            body: body.to_vec(),
            truncated: false,
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
}

/// What the server saw, shared with the checker.
#[derive(Debug, Default)]
pub struct ServerLog {
    pub receptions: Vec<Reception>,
    /// Requests whose body could not be parsed as the multipart it claimed.
    pub malformed: Vec<String>,
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
    let (drop_it, error, slow_millis) = {
        let mut rng = rng.lock().map_err(|_| "rng poisoned".to_owned())?;
        let drop_it = rng.chance(faults.drop_after_body);
        let error = rng.chance(faults.error);
        let slow_millis = if rng.chance(faults.slow) {
            rng.range(100, 20_000)
        } else {
            0
        };
        (drop_it, error, slow_millis)
    };
    if let Ok(mut log) = log.lock() {
        log.receptions.push(Reception {
            upload_id: upload_id.clone(),
            file: file.clone(),
            answered: !drop_it,
        });
    }
    if drop_it {
        // The whole body arrived; the connection dies before an answer.
        return Err("dropped after the body".to_owned());
    }
    if slow_millis > 0 {
        tokio::time::sleep(Duration::from_millis(slow_millis)).await;
    }
    let status = if error {
        503
    } else if method_is_put {
        200
    } else {
        201
    };
    let answer = format!("{{\"id\":\"{upload_id}\",\"size\":{}}}", file.len());
    hyper::Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(answer)))
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
