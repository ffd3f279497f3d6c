//! How one attempt's bytes move: the [`Transport`] trait the driver runs
//! attempts through, and [`HttpTransport`], the real one on `reqwest`.
//!
//! A transport reports what happened (progress, the server's answer, or a
//! failure with a code and whether a retry may help); it decides nothing
//! about retries or events — the state machine does.

use crate::clock::Clock;
use crate::multipart::{Body, BodyError, BodySpec};
use bgupload_fsm::{
    Attempt, AttemptReport, ErrorCode, FileCheck, Method, Time, TransferReport, UploadId,
    UploadRequest,
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

/// The report of an attempt whose body could not be produced, for every
/// transport (streamed here, written to a body file by the iOS host).
pub fn body_failure(error: &BodyError) -> TransferReport {
    match error {
        BodyError::FileNotFound { .. } => {
            TransferReport::failed(error.to_string(), ErrorCode::FileDoesNotExist.code(), false)
        }
        // Our own body file could not be written (disk full): another
        // attempt may succeed.
        BodyError::Write { .. } => {
            TransferReport::failed(error.to_string(), ErrorCode::CannotCreateFile.code(), true)
        }
        // The app's file is unreadable or changed: another attempt would not
        // send the file the app asked for.
        _ => TransferReport::failed(
            error.to_string(),
            ErrorCode::NoPermissionsToReadFile.code(),
            false,
        ),
    }
}

impl Transport for HttpTransport {
    fn check_file(&self, path: &str) -> FileCheck {
        check_local_file(path)
    }

    fn run(
        &self,
        request: UploadRequest,
        attempt: Attempt,
        progress: ProgressSink,
    ) -> impl Future<Output = TransferReport> + Send + 'static {
        let client = self.client.clone();
        let config = self.config.clone();
        let span = tracing::debug_span!(
            "http attempt",
            upload = %request.id,
            attempt = attempt.0,
            url = %loggable_url(&request.server_url),
        );
        tracing::Instrument::instrument(
            async move { send(client, &config, request, progress).await },
            span,
        )
    }
}

/// One attempt: the request with its streamed body, then the answer, within
/// the deadlines.
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
    let builder = request_builder(
        &client,
        &request,
        body.content_type(),
        body.content_length(),
    );
    let activity = Activity::new();
    let body_error = BodyErrorSlot::default();
    let stream = counted_stream(body, progress, &activity, &body_error);
    let builder = builder.body(reqwest::Body::wrap_stream(stream));
    // Error texts are persisted and shown: never the URL's secrets.
    let url = loggable_url(&request.server_url);
    let exchange = exchange(builder, config, &url, &activity, &body_error);
    within_deadlines(exchange, config, &url, &activity).await
}

/// Where the body stream leaves an error of its own (the file changed or
/// went away), so that it is reported as such and not as a network failure.
type BodyErrorSlot = Arc<std::sync::Mutex<Option<BodyError>>>;

/// The request without its body: method, URL, the app's headers, and the
/// framing headers the body needs.
fn request_builder(
    client: &reqwest::Client,
    request: &UploadRequest,
    content_type: &str,
    total: u64,
) -> reqwest::RequestBuilder {
    let mut builder = match request.method {
        Method::Post => client.post(&request.server_url),
        Method::Put => client.put(&request.server_url),
    };
    let user_sets_content_type = request
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
    for (name, value) in request.headers_to_send() {
        builder = builder.header(name, value);
    }
    if !user_sets_content_type {
        builder = builder.header(reqwest::header::CONTENT_TYPE, content_type.to_owned());
    }
    builder.header(reqwest::header::CONTENT_LENGTH, total)
}

/// The body as a stream that counts the bytes handed to the connection
/// (progress, and activity for the idle timeout) and keeps a body error.
fn counted_stream(
    body: Body,
    progress: ProgressSink,
    activity: &Activity,
    body_error: &BodyErrorSlot,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let total = body.content_length();
    let sent = AtomicU64::new(0);
    let body_error = body_error.clone();
    let activity = activity.clone();
    body.into_stream().map(move |chunk| match chunk {
        Ok(bytes) => {
            activity.touch();
            let now = sent.fetch_add(bytes.len() as u64, Ordering::Relaxed) + bytes.len() as u64;
            progress.progress(now, total);
            Ok(bytes)
        }
        Err(error) => {
            let message = error.to_string();
            if let Ok(mut slot) = body_error.lock() {
                *slot = Some(error);
            }
            Err(std::io::Error::other(message))
        }
    })
}

/// Sends the request and reads the answer, kept to the limit and within
/// `response_timeout` from its head.
async fn exchange(
    builder: reqwest::RequestBuilder,
    config: &HttpConfig,
    url: &str,
    activity: &Activity,
    body_error: &BodyErrorSlot,
) -> TransferReport {
    let response = match builder.send().await {
        Ok(response) => response,
        Err(error) => {
            let taken = body_error.lock().ok().and_then(|mut slot| slot.take());
            return match taken {
                Some(body_error) => body_failure(&body_error),
                None => request_failure(&error),
            };
        }
    };
    activity.touch();
    let status = response.status().as_u16();
    let retry_after_millis =
        crate::retry_after::from_headers(response.headers(), std::time::SystemTime::now());
    let read = tokio::time::timeout(
        config.response_timeout,
        read_limited(response, config.max_response_bytes, activity),
    );
    match read.await {
        Ok(Ok((body, truncated))) => TransferReport::Response {
            status,
            body,
            truncated,
            retry_after_millis,
        },
        Ok(Err(error)) => request_failure(&error),
        Err(_elapsed) => TransferReport::failed(
            format!(
                "error reading the answer from {url}: not complete within {}",
                seconds(config.response_timeout)
            ),
            ErrorCode::TimedOut.code(),
            true,
        ),
    }
}

/// `exchange`, unless `read_timeout` of silence (sending or receiving:
/// reqwest's own read timeout would bound the whole send of a large file)
/// or `attempt_timeout` in all comes first.
async fn within_deadlines(
    exchange: impl Future<Output = TransferReport>,
    config: &HttpConfig,
    url: &str,
    activity: &Activity,
) -> TransferReport {
    tokio::select! {
        biased;
        report = exchange => report,
        () = activity.silence(config.read_timeout) => TransferReport::failed(
            format!("error sending request for url ({url}): operation timed out"),
            ErrorCode::TimedOut.code(),
            true,
        ),
        () = tokio::time::sleep(config.attempt_timeout) => TransferReport::failed(
            format!(
                "upload to {url} not complete within {}",
                seconds(config.attempt_timeout)
            ),
            ErrorCode::TimedOut.code(),
            true,
        ),
    }
}

/// A URL as logs, error texts and listings may show it: scheme, host, port
/// and path; never the userinfo, the query or the fragment, which may carry
/// secrets.
pub fn loggable_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => {
            let host = parsed.host_str().unwrap_or("");
            match parsed.port() {
                Some(port) => format!("{}://{host}:{port}{}", parsed.scheme(), parsed.path()),
                None => format!("{}://{host}{}", parsed.scheme(), parsed.path()),
            }
        }
        Err(_) => "(not a URL)".to_owned(),
    }
}

/// A timeout as people read it: `1.5 s`, `60 s`.
fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

/// When bytes last moved in either direction, for the idle timeout.
#[derive(Clone, Debug)]
struct Activity {
    clock: Clock,
    last_millis: Arc<AtomicU64>,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            clock: Clock::start(),
            last_millis: Arc::new(AtomicU64::new(0)),
        }
    }

    fn touch(&self) {
        let now = self.clock.now().as_millis();
        self.last_millis.fetch_max(now, Ordering::Relaxed);
    }

    /// Completes once nothing moved for `limit`.
    async fn silence(&self, limit: Duration) {
        loop {
            let last = Time::from_millis(self.last_millis.load(Ordering::Relaxed));
            let deadline = self.clock.instant(last) + limit;
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
        return TransferReport::failed(message, ErrorCode::BadUrl.code(), false);
    }
    // Another attempt meets the same certificate: final, with its own code.
    if refused_certificate(error) {
        return TransferReport::failed(
            message,
            ErrorCode::ServerCertificateUntrusted.code(),
            false,
        );
    }
    let code = if error.is_timeout() {
        ErrorCode::TimedOut.code()
    } else if error.is_connect() {
        ErrorCode::CannotConnectToHost.code()
    } else {
        ErrorCode::NetworkConnectionLost.code()
    };
    TransferReport::failed(message, code, true)
}

/// Whether TLS refused the server's certificate somewhere in the causes
/// (rustls's error travels inside `io::Error`s, nested).
fn refused_certificate(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    for _ in 0..8 {
        let Some(cause) = source else {
            return false;
        };
        let mut inner = cause;
        for _ in 0..4 {
            match inner
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
            {
                Some(wrapped) => inner = wrapped,
                None => break,
            }
        }
        if matches!(
            inner.downcast_ref::<rustls::Error>(),
            Some(rustls::Error::InvalidCertificate(_))
        ) {
            return true;
        }
        source = cause.source();
    }
    false
}

/// The error with its causes, one line, with any URL in it shown as
/// [`loggable_url`] shows it.
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
    match error.url() {
        Some(url) => text.replace(url.as_str(), &loggable_url(url.as_str())),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::loggable_url;

    #[test]
    fn logged_urls_keep_no_userinfo_query_or_fragment() {
        assert_eq!(
            loggable_url("https://user:secret@example.com:8443/up/load?sig=SECRET#frag"),
            "https://example.com:8443/up/load"
        );
        assert_eq!(
            loggable_url("http://127.0.0.1/up?token=x"),
            "http://127.0.0.1/up"
        );
        assert_eq!(loggable_url("http://[::1]:9/x"), "http://[::1]:9/x");
        assert_eq!(loggable_url("not a url ?secret"), "(not a URL)");
    }
}
