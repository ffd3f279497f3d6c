//! How one attempt's bytes move: the [`Transport`] trait the driver runs
//! attempts through, and [`HttpTransport`], the real one on `reqwest`.
//!
//! A transport reports what happened (progress, the server's answer, or a
//! failure with a code and whether a retry may help); it decides nothing
//! about retries or events — the state machine does.

use crate::multipart::{Body, BodyError, BodySpec};
use bgupload_fsm::{
    Attempt, ErrorCode, FileCheck, Method, TransferFailure, TransferReport, UploadId, UploadRequest,
};
use bytes::Bytes;
use futures_util::StreamExt;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// Where progress of one attempt goes: the driver's report channel. Lossy
/// by design (a full channel drops a progress report, never an outcome).
#[derive(Clone, Debug)]
pub struct ProgressSink {
    upload_id: UploadId,
    attempt: Attempt,
    reports: mpsc::Sender<AttemptReport>,
}

/// A report on one attempt, as the driver receives it.
#[derive(Clone, Debug)]
pub struct AttemptReport {
    pub upload_id: UploadId,
    pub attempt: Attempt,
    pub report: TransferReport,
}

impl ProgressSink {
    pub fn new(
        upload_id: UploadId,
        attempt: Attempt,
        reports: mpsc::Sender<AttemptReport>,
    ) -> ProgressSink {
        ProgressSink {
            upload_id,
            attempt,
            reports,
        }
    }

    /// `sent` of `total` body bytes were handed to the network.
    pub fn progress(&self, sent: u64, total: u64) {
        let _dropped_when_full = self.reports.try_send(AttemptReport {
            upload_id: self.upload_id.clone(),
            attempt: self.attempt,
            report: TransferReport::Progress { sent, total },
        });
    }
}

/// Runs attempts. Generic in the driver, so the simulator can bring its own.
pub trait Transport: Send + Sync + 'static {
    /// What is at `path` now (for `startUpload`'s checks).
    fn check_file(&self, path: &str) -> FileCheck;

    /// Runs one attempt to its end: the server's answer
    /// (`TransferReport::Response`) or a failure (`TransferReport::Failed`).
    /// Dropping the future cancels the attempt at once.
    fn run(
        &self,
        request: UploadRequest,
        attempt: Attempt,
        progress: ProgressSink,
    ) -> impl Future<Output = TransferReport> + Send + 'static;

    /// Stops an attempt this process does not run itself: one the OS runs
    /// for it (iOS background session), possibly started before a relaunch.
    /// Attempts started with [`Transport::run`] are stopped by dropping
    /// their future; engine-owned transports need nothing here.
    fn cancel_elsewhere(&self, upload_id: &UploadId, attempt: Attempt) {
        let _ = (upload_id, attempt);
    }
}

/// Settings of the HTTP transport.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    pub connect_timeout: Duration,
    /// Longest silence while sending or receiving.
    pub read_timeout: Duration,
    /// Longest time from the answer's head to the end of the kept answer:
    /// a server that trickles its body cannot hold an attempt (F8).
    pub response_timeout: Duration,
    /// Longest time one attempt may take, sending included (like
    /// `NSURLSessionConfiguration.timeoutIntervalForResource`, whose
    /// default it takes: 7 days). A slow link may take long; not forever.
    pub attempt_timeout: Duration,
    /// Bytes of the answer kept for `serverResponse`.
    pub max_response_bytes: usize,
    pub user_agent: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            response_timeout: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(7 * 24 * 60 * 60),
            max_response_bytes: bgupload_fsm::Limits::default().max_response_bytes,
            user_agent: format!("bgupload/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// The real transport: `reqwest` with rustls (verified TLS), streamed body
/// with an exact Content-Length, no redirects followed (a redirect is the
/// server's answer: the body cannot be replayed, and credentials never go to
/// another origin).
#[derive(Clone, Debug)]
pub struct HttpTransport {
    client: reqwest::Client,
    config: Arc<HttpConfig>,
}

impl HttpTransport {
    pub fn new(config: HttpConfig) -> Result<HttpTransport, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(config.user_agent.clone())
            .build()?;
        Ok(HttpTransport {
            client,
            config: Arc::new(config),
        })
    }
}

/// Turns a validated request into the body it needs.
pub fn body_spec(request: &UploadRequest) -> BodySpec {
    BodySpec {
        file_path: request.file_path.clone().into(),
        file_key: request.file_key.clone(),
        parameters: request.parameters.clone(),
        format: request.body_format,
    }
}

/// What is at `path` on the local file system.
pub fn check_local_file(path: &str) -> FileCheck {
    match std::fs::metadata(Path::new(path)) {
        Err(_) => FileCheck::Missing,
        Ok(meta) if !meta.is_file() => FileCheck::NotARegularFile,
        Ok(meta) => match std::fs::File::open(path) {
            Ok(_) => FileCheck::RegularFile { size: meta.len() },
            Err(_) => FileCheck::Unreadable,
        },
    }
}

fn failure(message: String, error_code: i32, retryable: bool) -> TransferReport {
    TransferReport::Failed(TransferFailure {
        message,
        error_code,
        retryable,
    })
}

fn body_failure(error: &BodyError) -> TransferReport {
    let code = match error {
        BodyError::FileNotFound { .. } => ErrorCode::FileDoesNotExist.code(),
        _ => ErrorCode::NoPermissionsToReadFile.code(),
    };
    // The file is gone or changed: another attempt would not send the file
    // the app asked for.
    failure(error.to_string(), code, false)
}

impl Transport for HttpTransport {
    fn check_file(&self, path: &str) -> FileCheck {
        check_local_file(path)
    }

    fn run(
        &self,
        request: UploadRequest,
        _attempt: Attempt,
        progress: ProgressSink,
    ) -> impl Future<Output = TransferReport> + Send + 'static {
        let client = self.client.clone();
        let config = self.config.clone();
        async move { send(client, &config, request, progress).await }
    }
}

async fn send(
    client: reqwest::Client,
    config: &HttpConfig,
    request: UploadRequest,
    progress: ProgressSink,
) -> TransferReport {
    let body = match Body::open(&body_spec(&request)) {
        Ok(body) => body,
        Err(error) => return body_failure(&error),
    };
    let total = body.content_length();
    let mut builder = match request.method {
        Method::Post => client.post(&request.server_url),
        Method::Put => client.put(&request.server_url),
    };
    let user_sets_content_type = request
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if !user_sets_content_type {
        builder = builder.header(reqwest::header::CONTENT_TYPE, body.content_type());
    }
    builder = builder.header(reqwest::header::CONTENT_LENGTH, total);

    // Count bytes as they are handed to the connection; remember a body
    // error so it is reported as such, not as a network failure.
    let sent = Arc::new(AtomicU64::new(0));
    let body_error: Arc<std::sync::Mutex<Option<BodyError>>> = Arc::default();
    let activity = Activity::new();
    let stream = {
        let sent = sent.clone();
        let body_error = body_error.clone();
        let activity = activity.clone();
        body.into_stream().map(move |chunk| match chunk {
            Ok(bytes) => {
                activity.touch();
                let now =
                    sent.fetch_add(bytes.len() as u64, Ordering::Relaxed) + bytes.len() as u64;
                progress.progress(now, total);
                Ok::<Bytes, std::io::Error>(bytes)
            }
            Err(error) => {
                let message = error.to_string();
                if let Ok(mut slot) = body_error.lock() {
                    *slot = Some(error);
                }
                Err(std::io::Error::other(message))
            }
        })
    };
    let url = request.server_url.clone();
    let exchange = async {
        let result = builder
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await;
        let taken_body_error = || body_error.lock().ok().and_then(|mut slot| slot.take());
        let response = match result {
            Ok(response) => response,
            Err(error) => {
                if let Some(body_error) = taken_body_error() {
                    return body_failure(&body_error);
                }
                return request_failure(&error);
            }
        };
        activity.touch();
        let status = response.status().as_u16();
        let read = tokio::time::timeout(
            config.response_timeout,
            read_limited(response, config.max_response_bytes, &activity),
        );
        let (body, truncated) = match read.await {
            Ok(Ok(read)) => read,
            Ok(Err(error)) => return request_failure(&error),
            Err(_elapsed) => {
                return failure(
                    format!(
                        "error reading the answer from {url}: not complete within {}",
                        seconds(config.response_timeout)
                    ),
                    ErrorCode::TimedOut.code(),
                    true,
                );
            }
        };
        TransferReport::Response {
            status,
            body,
            truncated,
        }
    };
    // `read_timeout` is the longest silence, sending or receiving: reqwest's
    // own read timeout would bound the whole send of a large file.
    // `attempt_timeout` bounds everything.
    tokio::select! {
        biased;
        report = exchange => report,
        () = activity.silence(config.read_timeout) => failure(
            format!("error sending request for url ({url}): operation timed out"),
            ErrorCode::TimedOut.code(),
            true,
        ),
        () = tokio::time::sleep(config.attempt_timeout) => failure(
            format!(
                "upload to {url} not complete within {}",
                seconds(config.attempt_timeout)
            ),
            ErrorCode::TimedOut.code(),
            true,
        ),
    }
}

/// A timeout as people read it: `1.5 s`, `60 s`.
fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

/// When bytes last moved in either direction, for the idle timeout.
#[derive(Clone, Debug)]
struct Activity {
    origin: tokio::time::Instant,
    last_millis: Arc<AtomicU64>,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            origin: tokio::time::Instant::now(),
            last_millis: Arc::new(AtomicU64::new(0)),
        }
    }

    fn touch(&self) {
        let millis = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_millis.fetch_max(millis, Ordering::Relaxed);
    }

    /// Completes once nothing moved for `limit`.
    async fn silence(&self, limit: Duration) {
        loop {
            let last = Duration::from_millis(self.last_millis.load(Ordering::Relaxed));
            let deadline = self.origin + last + limit;
            if tokio::time::Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// Reads at most `limit` bytes of the answer; says whether more came.
async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
    activity: &Activity,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut kept = Vec::new();
    let mut truncated = false;
    while let Some(chunk) = response.chunk().await? {
        activity.touch();
        let room = limit.saturating_sub(kept.len());
        if chunk.len() > room {
            kept.extend_from_slice(&chunk[..room]);
            truncated = true;
            // The rest is not needed; dropping the response closes it.
            break;
        }
        kept.extend_from_slice(&chunk);
    }
    Ok((kept, truncated))
}

fn request_failure(error: &reqwest::Error) -> TransferReport {
    let message = describe(error);
    if error.is_builder() {
        return failure(message, ErrorCode::BadUrl.code(), false);
    }
    let code = if error.is_timeout() {
        ErrorCode::TimedOut.code()
    } else if error.is_connect() {
        ErrorCode::CannotConnectToHost.code()
    } else {
        ErrorCode::NetworkConnectionLost.code()
    };
    failure(message, code, true)
}

/// The error with its causes, one line.
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    let mut depth = 0;
    while let Some(cause) = source {
        depth += 1;
        if depth > 4 {
            break;
        }
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
