//! Every bad input a user or a server can send, against the real engine:
//! `Engine` + `FjallStore` in a temporary directory + `HttpTransport`,
//! uploading to the embedded receiver or to small purpose-built TCP servers
//! that misbehave, all on 127.0.0.1.
//!
//! Two tables, each row an input and the exact outcome expected:
//! - [`user_input_table`]: payloads an app can send (missing, empty,
//!   malformed or oversized fields, bad paths, bad URLs, header injection,
//!   reserved headers, JSON fields of the wrong type from a host, an
//!   unreadable file, files that change size while being sent);
//! - [`server_table`]: servers that answer too much, answer garbage or
//!   invalid UTF-8, trickle, never answer, or hang up mid-body, and
//!   uploads longer than the read timeout (fine) or the attempt limit;
//! - [`full_disk`]: the program on a full disk, end to end.
//!
//! Each harness accepts a sentinel upload before the first row and leaves
//! its UPLOADED event unacknowledged. After every row: a new `init` must
//! re-deliver exactly that event, identical (`eventId` included) — nothing
//! accepted was lost, nothing left over — and at the end the store, opened
//! again, holds exactly that event and no upload.
//!
//! Two transport bugs were found by this table (F7, F8 in
//! `fuzz/README.md`); their rows now assert the fixed behaviour.
//!
//! Every wait is bounded; timeouts in the engine's configuration are the
//! subject of some rows, but no assertion depends on how fast the machine
//! runs beyond them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a test or bench: failing loudly is the point

/// The full-disk row, with the program on a small tmpfs.
#[path = "hostile_input/full_disk.rs"]
mod full_disk;

use bgupload::fsm::ErrorCode;
use bgupload::fsm::{
    BodyFormat, Config, Event, Outcome, ProgressThrottle, Rejection, RetryPolicy, TerminalEvent,
    UploadPayload,
};
use bgupload::io::driver::DriverTask;
use bgupload::io::{
    CommandError, Engine, EngineOptions, HttpConfig, HttpTransport, StoreCalls, event_to_json,
};
use bgupload::persistence::{FjallStore, Store};
use bgupload::receiver::{Receiver, ReceiverConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Upper bound of one table.
const TABLE_TIMEOUT: Duration = Duration::from_secs(240);
/// Upper bound of a wait for one event.
const EVENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts before a transport failure is final (the harnesses' policy).
const MAX_ATTEMPTS: u32 = 2;
/// The engine's limit on a kept answer (`HttpConfig::default`).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
const MIB: usize = 1024 * 1024;

// ------------------------------------------------------------------ harness

fn config() -> Config {
    Config {
        parallel_uploads_limit: 2,
        retry: RetryPolicy {
            max_attempts: MAX_ATTEMPTS,
            initial_backoff_millis: 100,
            max_backoff_millis: 200,
        },
        progress: ProgressThrottle {
            min_interval_millis: 0,
            min_percent_step: 1,
        },
        ..Config::default()
    }
}

/// Timeouts for rows that must not wait on the network for long.
fn short_timeouts() -> HttpConfig {
    HttpConfig {
        connect_timeout: Duration::from_secs(1),
        read_timeout: Duration::from_secs(1),
        response_timeout: Duration::from_secs(2),
        attempt_timeout: Duration::from_secs(20),
        ..HttpConfig::default()
    }
}

/// Timeouts long enough for a throttled upload of tens of MiB.
fn long_timeouts() -> HttpConfig {
    HttpConfig {
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(60),
        ..HttpConfig::default()
    }
}

/// One engine on its own store, its events, and its sentinel upload.
struct Harness {
    engine: Engine,
    task: DriverTask,
    events: mpsc::UnboundedReceiver<Event>,
    store_dir: tempfile::TempDir,
    files: tempfile::TempDir,
    /// The UPLOADED event of the upload accepted before the first row,
    /// never acknowledged.
    sentinel: TerminalEvent,
}

fn sink(sender: mpsc::UnboundedSender<Event>) -> bgupload::io::EventSink {
    Box::new(move |event| {
        let _ = sender.send(event);
    })
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Harness {
    async fn start(http: HttpConfig, receiver_url: &str) -> Harness {
        let store_dir = tempfile::tempdir().unwrap();
        let files = tempfile::tempdir().unwrap();
        let store = Arc::new(FjallStore::open(store_dir.path()).unwrap());
        let transport = Arc::new(HttpTransport::new(http).unwrap());
        let options = EngineOptions {
            machine: bgupload::fsm::Options::new(11),
            store_calls: StoreCalls::Blocking,
        };
        let (engine, task) = Engine::start(store, transport, options).await.unwrap();
        let (sender, events) = mpsc::unbounded_channel();
        engine.init(config(), sink(sender)).await.unwrap();
        let mut harness = Harness {
            engine,
            task,
            events,
            store_dir,
            files,
            sentinel: placeholder_event(),
        };
        let id = new_id();
        let path = harness.file("sentinel.bin", b"accepted before the first row");
        harness
            .engine
            .start_upload(payload(&id, &path, receiver_url))
            .await
            .unwrap();
        let sentinel = harness.terminal_of(&id).await;
        assert!(
            matches!(
                sentinel.outcome,
                Outcome::Uploaded {
                    status_code: 201,
                    ..
                }
            ),
            "{sentinel:?}"
        );
        harness.sentinel = sentinel;
        harness
    }

    fn file(&self, name: &str, contents: &[u8]) -> PathBuf {
        let path = self.files.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    async fn next_event(&mut self) -> Event {
        tokio::time::timeout(EVENT_TIMEOUT, self.events.recv())
            .await
            .expect("an event within the timeout")
            .expect("the engine is running")
    }

    /// Waits for the terminal event of `id`, skipping its progress; any
    /// other event is a bug (rows run one at a time).
    async fn terminal_of(&mut self, id: &str) -> TerminalEvent {
        loop {
            match self.next_event().await {
                Event::Terminal(terminal) if terminal.upload_id.as_str() == id => {
                    return terminal;
                }
                Event::Progress { upload_id, .. } if upload_id.as_str() == id => {}
                other => panic!("unexpected event while waiting for {id}: {other:?}"),
            }
        }
    }

    /// Waits for the first progress event of `id` (its bytes are moving).
    async fn first_progress_of(&mut self, id: &str) {
        match self.next_event().await {
            Event::Progress { upload_id, .. } if upload_id.as_str() == id => {}
            other => panic!("unexpected event while waiting for progress of {id}: {other:?}"),
        }
    }

    /// Nothing accepted was lost and nothing is left over: a new `init`
    /// re-delivers exactly the sentinel's event, identical.
    async fn check_nothing_lost(&mut self, row: &str) {
        while let Ok(event) = self.events.try_recv() {
            assert!(
                matches!(event, Event::Progress { .. }),
                "{row}: event left over: {event:?}"
            );
        }
        let (sender, events) = mpsc::unbounded_channel();
        self.engine.init(config(), sink(sender)).await.unwrap();
        self.events = events;
        let mut redelivered = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            redelivered.push(event);
        }
        assert_eq!(
            redelivered,
            vec![Event::Terminal(self.sentinel.clone())],
            "{row}: re-delivered events after the row"
        );
    }

    /// Acknowledges a row's terminal event.
    async fn acknowledge(&self, event: &TerminalEvent) {
        self.engine.acknowledge_event(event.event_id).await.unwrap();
    }

    /// Stops the engine; the store, opened again, holds exactly the
    /// sentinel's event and no upload.
    async fn stop_and_check_store(self) {
        self.engine.shutdown().await;
        drop(self.engine);
        tokio::time::timeout(EVENT_TIMEOUT, self.task)
            .await
            .expect("the driver stops")
            .unwrap()
            .unwrap();
        let store = FjallStore::open(self.store_dir.path()).unwrap();
        let stored = store.load().unwrap();
        assert!(
            stored.uploads.is_empty(),
            "uploads left: {:?}",
            stored.uploads
        );
        assert_eq!(stored.events, vec![self.sentinel.clone()]);
    }
}

fn placeholder_event() -> TerminalEvent {
    TerminalEvent {
        event_id: bgupload::fsm::EventId(0),
        upload_id: bgupload::fsm::UploadId::from_stored(""),
        outcome: Outcome::Failed {
            error: String::new(),
            error_code: 0,
        },
    }
}

fn payload(id: &str, path: &Path, url: &str) -> UploadPayload {
    UploadPayload {
        id: Some(id.to_owned()),
        file_path: Some(path.to_str().unwrap().to_owned()),
        server_url: Some(url.to_owned()),
        ..UploadPayload::default()
    }
}

/// Starts a receiver on 127.0.0.1 storing into `dir`.
async fn receiver(dir: &Path, throttle_bytes_per_sec: Option<u64>) -> Receiver {
    let mut config = ReceiverConfig::loopback(dir);
    config.throttle_bytes_per_sec = throttle_bytes_per_sec;
    Receiver::start(config).await.unwrap()
}

// ------------------------------------------------------------------ rows

/// What a row expects.
#[derive(Debug)]
enum Expect {
    /// `startUpload` refused with exactly this rejection (also delivered
    /// as a FAILED event without `eventId`).
    Rejected {
        id: Option<String>,
        error: String,
        code: Option<i32>,
    },
    /// Accepted, then UPLOADED with this status (the row checks the rest:
    /// the answer kept, what the receiver got).
    Uploaded { status: u16 },
    /// Accepted, then FAILED with this code and error.
    Failed { code: i32, error: ErrorText },
}

/// An expected `error`.
#[derive(Debug)]
enum ErrorText {
    Exactly(String),
    /// Starts with the first, ends with the second (for a part that
    /// depends on the operating system or on timing).
    Between(String, String),
}

impl ErrorText {
    fn matches(&self, error: &str) -> bool {
        match self {
            ErrorText::Exactly(text) => error == text,
            ErrorText::Between(start, end) => {
                error.starts_with(start.as_str()) && error.ends_with(end.as_str())
            }
        }
    }
}

/// Refused by the engine, with its `errorCode`.
fn rejected(id: Option<&str>, code: ErrorCode, error: impl Into<String>) -> Expect {
    Expect::Rejected {
        id: id.map(str::to_owned),
        error: error.into(),
        code: Some(code.code()),
    }
}

/// Refused with one of the reference's own messages: no `errorCode`.
fn refused_as_reference(id: Option<&str>, error: &str) -> Expect {
    Expect::Rejected {
        id: id.map(str::to_owned),
        error: error.to_owned(),
        code: None,
    }
}

/// FAILED after every attempt, with exactly `error` and the count.
fn gave_up_exactly(code: i32, error: impl Into<String>) -> Expect {
    Expect::Failed {
        code,
        error: ErrorText::Exactly(format!(
            "{} (gave up after {MAX_ATTEMPTS} attempts)",
            error.into()
        )),
    }
}

/// FAILED after every attempt, the error starting with `error_starts`.
fn gave_up(code: i32, error_starts: impl Into<String>) -> Expect {
    Expect::Failed {
        code,
        error: ErrorText::Between(
            error_starts.into(),
            format!(" (gave up after {MAX_ATTEMPTS} attempts)"),
        ),
    }
}

/// Runs one row's upload and checks its outcome; returns its terminal
/// event (acknowledged), if it had one.
async fn run_row(
    harness: &mut Harness,
    row: &str,
    upload: UploadPayload,
    expect: &Expect,
) -> Option<TerminalEvent> {
    let id = upload.id.clone().unwrap_or_default();
    let started = harness.engine.start_upload(upload).await;
    let terminal = match (expect, started) {
        (Expect::Rejected { id, error, code }, Err(CommandError::Rejected(rejection))) => {
            let want = Rejection {
                id: id.clone(),
                error: error.clone(),
                error_code: *code,
            };
            assert_eq!(rejection, want, "{row}");
            let event = harness.events.try_recv().expect("the refusal is delivered");
            assert_eq!(event, Event::Rejected(want), "{row}");
            let json = event_to_json(&event);
            assert!(json.get("eventId").is_none(), "{row}: {json}");
            assert_eq!(
                json.get("errorCode").and_then(|code| code.as_i64()),
                code.map(i64::from),
                "{row}: {json}"
            );
            assert_eq!(json["state"], "FAILED", "{row}");
            return None;
        }
        (Expect::Rejected { .. }, other) => panic!("{row}: expected a refusal, got {other:?}"),
        (_, Err(error)) => panic!("{row}: refused: {error}"),
        (_, Ok(())) => harness.terminal_of(&id).await,
    };
    check_terminal(row, &terminal, expect);
    harness.acknowledge(&terminal).await;
    Some(terminal)
}

fn check_terminal(row: &str, terminal: &TerminalEvent, expect: &Expect) {
    match (expect, &terminal.outcome) {
        (Expect::Uploaded { status }, Outcome::Uploaded { status_code, .. }) => {
            assert_eq!(status_code, status, "{row}: {terminal:?}");
        }
        (
            Expect::Failed {
                code,
                error: expected,
            },
            Outcome::Failed { error, error_code },
        ) => {
            assert_eq!(error_code, code, "{row}: {error}");
            assert!(
                expected.matches(error),
                "{row}: error {error:?}, expected {expected:?}"
            );
        }
        _ => panic!("{row}: expected {expect:?}, got {terminal:?}"),
    }
}

// ------------------------------------------------------------------ user input

/// Payloads an app can send: each row's payload and the exact outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_input_table() {
    tokio::time::timeout(TABLE_TIMEOUT, user_input_rows())
        .await
        .expect("the table finishes in time");
}

async fn user_input_rows() {
    let received_dir = tempfile::tempdir().unwrap();
    let receiver = receiver(received_dir.path(), None).await;
    let url = receiver.url();
    let mut harness = Harness::start(long_timeouts(), &url).await;
    let file = harness.file("data.bin", b"0123456789");
    let file_text = file.to_str().unwrap().to_owned();
    let directory = harness.files.path().to_str().unwrap().to_owned();
    let missing = format!("{}/nope.bin", directory);
    let long_id = "x".repeat(10_000);
    let id = new_id();
    let base = || payload(&id, &file, &url);

    let header_rejected = |name: &str, what: &str| format!("header {name:?} {what}");
    let reserved = "is set by the uploader and cannot be overridden";
    let control = "has a CR, LF, NUL or other control character in its value";
    let invalid_scheme = "Invalid server URL: only http and https URLs are supported";
    let with_headers = |headers: Vec<(&str, &str)>| UploadPayload {
        headers: headers
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect(),
        ..base()
    };
    let with_url = |url: &str| UploadPayload {
        server_url: Some(url.to_owned()),
        ..base()
    };
    let with_path = |path: &str| UploadPayload {
        file_path: Some(path.to_owned()),
        ..base()
    };
    let many = |count: usize, prefix: &str| -> Vec<(String, String)> {
        (0..count)
            .map(|index| (format!("{prefix}{index}"), "v".to_owned()))
            .collect()
    };

    let rows: Vec<(&str, UploadPayload, Expect)> = vec![
        (
            "no field at all",
            UploadPayload::default(),
            refused_as_reference(None, "Upload ID is required"),
        ),
        (
            "empty id",
            UploadPayload {
                id: Some(String::new()),
                ..base()
            },
            refused_as_reference(None, "Upload ID is required"),
        ),
        (
            "id with a line break",
            UploadPayload {
                id: Some("abc\r\nInjected: 1".to_owned()),
                ..base()
            },
            rejected(
                Some("abc\r\nInjected: 1"),
                ErrorCode::InvalidArgument,
                "Upload ID must not contain control characters",
            ),
        ),
        (
            "id with ESC and a C1 control character",
            UploadPayload {
                id: Some("a\u{1b}[2Jb\u{85}".to_owned()),
                ..base()
            },
            rejected(
                Some("a\u{1b}[2Jb\u{85}"),
                ErrorCode::InvalidArgument,
                "Upload ID must not contain control characters",
            ),
        ),
        (
            "id of 10,000 bytes (echoed cut to 1,024)",
            UploadPayload {
                id: Some(long_id.clone()),
                ..base()
            },
            rejected(
                Some(&long_id[..1_024]),
                ErrorCode::InvalidArgument,
                "Upload ID must be at most 1024 bytes of UTF-8",
            ),
        ),
        (
            "missing serverUrl",
            UploadPayload {
                server_url: None,
                ..base()
            },
            refused_as_reference(Some(&id), "Server URL is required"),
        ),
        (
            "empty serverUrl",
            with_url(""),
            refused_as_reference(Some(&id), "Server URL is required"),
        ),
        (
            "blank serverUrl",
            with_url("   "),
            refused_as_reference(Some(&id), "Invalid server URL"),
        ),
        (
            "missing filePath",
            UploadPayload {
                file_path: None,
                ..base()
            },
            refused_as_reference(Some(&id), "filePath is required"),
        ),
        (
            "empty filePath",
            with_path(""),
            refused_as_reference(Some(&id), "filePath is required"),
        ),
        (
            "relative filePath that does not exist",
            with_path("relative/nope.bin"),
            rejected(
                Some(&id),
                ErrorCode::FileDoesNotExist,
                "File not found: relative/nope.bin",
            ),
        ),
        (
            "relative filePath that exists (Cargo.toml)",
            with_path("Cargo.toml"),
            rejected(
                Some(&id),
                ErrorCode::InvalidArgument,
                "filePath must be an absolute path: Cargo.toml",
            ),
        ),
        (
            "absolute filePath that does not exist",
            with_path(&missing),
            rejected(
                Some(&id),
                ErrorCode::FileDoesNotExist,
                format!("File not found: {missing}"),
            ),
        ),
        // #16: refused before the file system is asked, and not echoed.
        // Before: looked up, then "File not found: <the whole path>".
        (
            "filePath with a NUL byte",
            with_path(&format!("{file_text}\0.jpg")),
            rejected(
                Some(&id),
                ErrorCode::InvalidArgument,
                "filePath is longer than 4096 bytes or contains NUL",
            ),
        ),
        (
            "filePath of 5,000 bytes",
            with_path(&format!("/{}", "p".repeat(4_999))),
            rejected(
                Some(&id),
                ErrorCode::InvalidArgument,
                "filePath is longer than 4096 bytes or contains NUL",
            ),
        ),
        (
            "filePath is a directory",
            with_path(&directory),
            rejected(
                Some(&id),
                ErrorCode::FileIsDirectory,
                format!("Not a regular file: {directory}"),
            ),
        ),
        (
            "ftp:// URL",
            with_url("ftp://127.0.0.1/x"),
            rejected(Some(&id), ErrorCode::UnsupportedUrl, invalid_scheme),
        ),
        (
            "file:// URL",
            with_url("file:///etc/passwd"),
            rejected(Some(&id), ErrorCode::UnsupportedUrl, invalid_scheme),
        ),
        (
            "javascript: URL",
            with_url("javascript:alert(1)"),
            rejected(Some(&id), ErrorCode::UnsupportedUrl, invalid_scheme),
        ),
        (
            "URL without a host",
            with_url("http:///upload"),
            rejected(Some(&id), ErrorCode::BadUrl, "Invalid server URL: no host"),
        ),
        // #16: parsed fully at startUpload. Before: accepted, then failed
        // at every attempt.
        (
            "URL with port 99999",
            with_url("http://127.0.0.1:99999/x"),
            rejected(
                Some(&id),
                ErrorCode::BadUrl,
                "Invalid server URL: the port is not in 1..=65535",
            ),
        ),
        (
            "URL with port 0",
            with_url("http://127.0.0.1:0/x"),
            rejected(
                Some(&id),
                ErrorCode::BadUrl,
                "Invalid server URL: the port is not in 1..=65535",
            ),
        ),
        (
            "URL with a port that is not a number",
            with_url("http://127.0.0.1:8o8o/x"),
            rejected(
                Some(&id),
                ErrorCode::BadUrl,
                "Invalid server URL: the port is not a number",
            ),
        ),
        (
            "URL with an IPv6 address out of brackets",
            with_url("http://fe80::1/x"),
            rejected(
                Some(&id),
                ErrorCode::BadUrl,
                "Invalid server URL: an IPv6 address must be in brackets",
            ),
        ),
        (
            "URL with an unclosed IPv6 bracket",
            with_url("http://[::1/x"),
            rejected(
                Some(&id),
                ErrorCode::BadUrl,
                "Invalid server URL: an IPv6 address without its closing bracket",
            ),
        ),
        (
            "URL with a bracketed name",
            with_url("http://[example.com]/x"),
            rejected(
                Some(&id),
                ErrorCode::BadUrl,
                "Invalid server URL: not an IPv6 address in brackets",
            ),
        ),
        (
            "URL with CR/LF",
            with_url(&format!("{url}\r\nX-Injected: 1")),
            rejected(
                Some(&id),
                ErrorCode::BadUrl,
                "Invalid server URL: contains spaces or control characters",
            ),
        ),
        (
            "URL of 8,193 bytes",
            with_url(&format!("http://127.0.0.1/{}", "a".repeat(8_193 - 17))),
            rejected(
                Some(&id),
                ErrorCode::BadUrl,
                "Invalid server URL: longer than 8192 bytes",
            ),
        ),
        (
            "CR/LF in a header value",
            with_headers(vec![("X-Test", "a\r\nX-Injected: 1")]),
            rejected(
                Some(&id),
                ErrorCode::InvalidArgument,
                header_rejected("X-Test", control),
            ),
        ),
        (
            "NUL in a header value",
            with_headers(vec![("X-Test", "a\0b")]),
            rejected(
                Some(&id),
                ErrorCode::InvalidArgument,
                header_rejected("X-Test", control),
            ),
        ),
        (
            "CR/LF in a header name",
            with_headers(vec![("X-Test\r\nX-Injected", "1")]),
            rejected(
                Some(&id),
                ErrorCode::InvalidArgument,
                "header name \"X-Test\\r\\nX-Injected\" is not a valid HTTP header name",
            ),
        ),
        (
            "empty header name",
            with_headers(vec![("", "1")]),
            rejected(
                Some(&id),
                ErrorCode::InvalidArgument,
                "header name \"\" is not a valid HTTP header name",
            ),
        ),
        (
            "user Content-Type on a multipart body",
            with_headers(vec![("Content-Type", "text/plain")]),
            rejected(
                Some(&id),
                ErrorCode::InvalidArgument,
                header_rejected("Content-Type", reserved),
            ),
        ),
        (
            "user Content-Length",
            with_headers(vec![("content-length", "1")]),
            rejected(
                Some(&id),
                ErrorCode::InvalidArgument,
                header_rejected("content-length", reserved),
            ),
        ),
        (
            "user Transfer-Encoding",
            with_headers(vec![("Transfer-Encoding", "chunked")]),
            rejected(
                Some(&id),
                ErrorCode::InvalidArgument,
                header_rejected("Transfer-Encoding", reserved),
            ),
        ),
        (
            "the same header twice",
            with_headers(vec![("X-A", "1"), ("x-a", "2")]),
            rejected(
                Some(&id),
                ErrorCode::InvalidArgument,
                "header \"x-a\" is given twice",
            ),
        ),
        (
            "65 headers",
            UploadPayload {
                headers: many(65, "X-H"),
                ..base()
            },
            rejected(
                Some(&id),
                ErrorCode::InvalidArgument,
                "more than 64 headers",
            ),
        ),
        (
            "headers over 16 KiB",
            with_headers(vec![("X-Big", &"h".repeat(16 * 1024))]),
            rejected(
                Some(&id),
                ErrorCode::InvalidArgument,
                "headers are larger than 16384 bytes",
            ),
        ),
        (
            "257 parameters",
            UploadPayload {
                parameters: many(257, "p"),
                ..base()
            },
            rejected(
                Some(&id),
                ErrorCode::InvalidArgument,
                "more than 256 parameters",
            ),
        ),
        (
            "parameters over 1 MiB",
            UploadPayload {
                parameters: vec![("big".to_owned(), "p".repeat(MIB))],
                ..base()
            },
            rejected(
                Some(&id),
                ErrorCode::InvalidArgument,
                "parameters are larger than 1048576 bytes",
            ),
        ),
        (
            "parameter with an empty name",
            UploadPayload {
                parameters: vec![(String::new(), "v".to_owned())],
                ..base()
            },
            rejected(
                Some(&id),
                ErrorCode::InvalidArgument,
                "a parameter has an empty name",
            ),
        ),
        (
            "fileKey of 257 bytes",
            UploadPayload {
                file_key: Some("k".repeat(257)),
                ..base()
            },
            rejected(
                Some(&id),
                ErrorCode::InvalidArgument,
                "fileKey is longer than 256 bytes",
            ),
        ),
        (
            "notificationTitle of 1,025 bytes",
            UploadPayload {
                notification_title: Some("t".repeat(1_025)),
                ..base()
            },
            rejected(
                Some(&id),
                ErrorCode::InvalidArgument,
                "notificationTitle is longer than 1024 bytes",
            ),
        ),
        (
            "requestMethod DELETE",
            UploadPayload {
                request_method: Some("DELETE".to_owned()),
                ..base()
            },
            rejected(
                Some(&id),
                ErrorCode::InvalidArgument,
                "requestMethod must be POST or PUT, not \"DELETE\"",
            ),
        ),
    ];
    for (row, upload, expect) in rows {
        run_row(&mut harness, row, upload, &expect).await;
        harness.check_nothing_lost(row).await;
    }

    // JSON from a host (the FFI layer decodes it before the engine sees
    // it): a field of the wrong type is refused naming the field.
    let quoted = |text: &str| serde_json::to_string(text).unwrap();
    let json_rows: Vec<(&str, String, &str)> = vec![
        (
            "JSON: not an object",
            "[1, 2]".to_owned(),
            "Upload Settings object is missing or has invalid arguments",
        ),
        (
            "JSON: id is a boolean",
            r#"{"id": true}"#.to_owned(),
            "id must be a string, not a boolean",
        ),
        (
            "JSON: filePath is an array",
            format!(r#"{{"id": {}, "filePath": ["/a"]}}"#, quoted(&id)),
            "filePath must be a string, not an array",
        ),
        (
            "JSON: headers is a string",
            format!(r#"{{"id": {}, "headers": "X-A: 1"}}"#, quoted(&id)),
            "headers must be an object, not a string",
        ),
        (
            "JSON: a parameter is an object",
            format!(
                r#"{{"id": {}, "parameters": {{"p": {{"q": 1}}}}}}"#,
                quoted(&id)
            ),
            "parameters[\"p\"] must be a string, number or boolean, not an object",
        ),
    ];
    for (row, json, error) in json_rows {
        let refused = bgupload_ffi::json::upload_payload(Some(&json)).unwrap_err();
        assert_eq!(refused.error, error, "{row}");
        harness.check_nothing_lost(row).await;
    }

    // Ids are any text: path-like and the longest are accepted, sent and
    // echoed exactly (ffi's body_path test: never a file name as it is).
    for (row, hostile_id) in [
        ("path-like id", "../../x".to_owned()),
        (
            "id with a slash, spaces and non-ASCII",
            "a/b c/é 文".to_owned(),
        ),
        ("id of exactly 1,024 bytes", "é".repeat(512)),
    ] {
        let upload = UploadPayload {
            id: Some(hostile_id.clone()),
            ..payload("", &file, &url)
        };
        let terminal = run_row(&mut harness, row, upload, &Expect::Uploaded { status: 201 })
            .await
            .expect("accepted");
        assert_eq!(terminal.upload_id.as_str(), hostile_id, "{row}");
        let json = event_to_json(&Event::Terminal(terminal.clone()));
        assert_eq!(json["id"], hostile_id.as_str(), "{row}");
        assert!(json["eventId"].is_string(), "{row}: {json}");
        harness.check_nothing_lost(row).await;
    }

    // eventIds: any non-empty text is taken; one never issued succeeds and
    // changes nothing (the sentinel's event stays); a missing or
    // overlong one is refused with a clear message.
    let sentinel_id = harness.sentinel.event_id.to_string();
    let event_rows: Vec<(&str, String, Result<(), &str>)> = vec![
        (
            "eventId: an iOS Core Data URI",
            "x-coredata://123/UploadEvent/p1".to_owned(),
            Ok(()),
        ),
        (
            "eventId: an upload id",
            harness.sentinel.upload_id.to_string(),
            Ok(()),
        ),
        ("eventId: path-like", "../../x".to_owned(), Ok(())),
        ("eventId: -1", "-1".to_owned(), Ok(())),
        ("eventId: 1e3", "1e3".to_owned(), Ok(())),
        ("eventId: leading zero", format!("0{sentinel_id}"), Ok(())),
        ("eventId: with a NUL", format!("{sentinel_id}\0"), Ok(())),
        ("eventId: 2^53", "9007199254740992".to_owned(), Ok(())),
        ("eventId: 1,024 bytes", "7".repeat(1_024), Ok(())),
        (
            "eventId: 1,025 bytes",
            "7".repeat(1_025),
            Err("Event ID must be at most 1024 bytes"),
        ),
        ("eventId: empty", String::new(), Err("Event ID is required")),
    ];
    for (row, text, expected) in event_rows {
        let answer = match bgupload_ffi::json::event_id(Some(&text)) {
            Err(error) => Err(error.to_string()),
            Ok(None) => Ok(()),
            Ok(Some(event_id)) => harness
                .engine
                .acknowledge_event(event_id)
                .await
                .map_err(|error| error.to_string()),
        };
        assert_eq!(answer, expected.map_err(str::to_owned), "{row}");
        harness.check_nothing_lost(row).await;
    }

    // Accepted rows: what the receiver got is checked too.
    let mut index = receiver.received().len();
    let mut next_received = |row: &str| {
        let all = receiver.received();
        assert_eq!(all.len(), index + 1, "{row}: one upload received");
        index += 1;
        all[index - 1].clone()
    };

    let row = "empty fileKey, title and method take the defaults";
    let upload = UploadPayload {
        id: Some(new_id()),
        file_key: Some(String::new()),
        notification_title: Some(String::new()),
        request_method: Some(String::new()),
        ..payload("", &file, &url)
    };
    run_row(&mut harness, row, upload, &Expect::Uploaded { status: 201 }).await;
    let got = next_received(row);
    assert_eq!(
        (got.file_key.as_deref(), got.method.as_str(), got.size),
        (Some("file"), "POST", 10),
        "{row}"
    );
    harness.check_nothing_lost(row).await;

    let row = "user Content-Type on a raw body is sent as given";
    let upload = UploadPayload {
        id: Some(new_id()),
        headers: vec![("Content-Type".to_owned(), "image/x-custom".to_owned())],
        body_format: BodyFormat::Raw,
        ..payload("", &file, &url)
    };
    run_row(&mut harness, row, upload, &Expect::Uploaded { status: 201 }).await;
    let got = next_received(row);
    assert_eq!(got.headers["content-type"], "image/x-custom", "{row}");
    assert_eq!(got.headers["content-length"], "10", "{row}");
    harness.check_nothing_lost(row).await;

    let row = "parameters of exactly 1 MiB, hostile names, are accepted and sent";
    let (hostile_name, second_name, second_value) = ("na\"me\r\n", "k", "quote \" crlf \r\n--x");
    let value = "v".repeat(MIB - hostile_name.len() - second_name.len() - second_value.len());
    let upload = UploadPayload {
        id: Some(new_id()),
        parameters: vec![
            (hostile_name.to_owned(), value.clone()),
            (second_name.to_owned(), second_value.to_owned()),
        ],
        ..payload("", &file, &url)
    };
    let total: usize = upload
        .parameters
        .iter()
        .map(|(name, value)| name.len() + value.len())
        .sum();
    assert_eq!(total, MIB, "{row}");
    run_row(&mut harness, row, upload, &Expect::Uploaded { status: 201 }).await;
    let got = next_received(row);
    assert_eq!(
        got.parameters,
        vec![
            ("na%22me%0D%0A".to_owned(), value),
            ("k".to_owned(), "quote \" crlf \r\n--x".to_owned()),
        ],
        "{row}"
    );
    harness.check_nothing_lost(row).await;

    let row = "JSON: numbers and booleans as parameter values are sent as text";
    let json = format!(
        r#"{{"id": {}, "filePath": {}, "serverUrl": {}, "fileKey": null,
            "parameters": {{"n": 5, "b": true, "x": null, "s": "t"}}}}"#,
        quoted(&new_id()),
        quoted(&file_text),
        quoted(&url)
    );
    let upload = bgupload_ffi::json::upload_payload(Some(&json)).unwrap();
    run_row(&mut harness, row, upload, &Expect::Uploaded { status: 201 }).await;
    let got = next_received(row);
    let text = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    };
    assert_eq!(
        got.parameters,
        text(&[("n", "5"), ("b", "true"), ("s", "t")]),
        "{row}"
    );
    assert_eq!(got.file_key.as_deref(), Some("file"), "{row}");
    harness.check_nothing_lost(row).await;

    // chmod 000: refused as unreadable, unless this process may read it
    // anyway (root), in which case it uploads, and the refusal is checked
    // by this test binary run again as another user.
    let row = "file with mode 000";
    let locked = harness.file("locked.bin", b"secret");
    set_mode(&locked, 0o000);
    let readable_anyway = std::fs::File::open(&locked).is_ok();
    let locked_text = locked.to_str().unwrap().to_owned();
    let upload_id = new_id();
    let expect = if readable_anyway {
        Expect::Uploaded { status: 201 }
    } else {
        rejected(
            Some(&upload_id),
            ErrorCode::NoPermissionsToReadFile,
            format!("File is not readable: {locked_text}"),
        )
    };
    run_row(
        &mut harness,
        row,
        payload(&upload_id, &locked, &url),
        &expect,
    )
    .await;
    if readable_anyway {
        assert_eq!(next_received(row).size, 6, "{row}");
        refused_when_unreadable_as_nobody(&url).await;
    }
    set_mode(&locked, 0o600);
    harness.check_nothing_lost(row).await;

    file_changes_while_sent(&mut harness).await;

    harness.stop_and_check_store().await;
    receiver.shutdown().await;
}

/// The user the unreadable-file row runs as when this process is root.
const NOBODY: u32 = 65_534;
const UNREADABLE_FILE_ENV: &str = "BGUPLOAD_TEST_UNREADABLE_FILE";
const RECEIVER_URL_ENV: &str = "BGUPLOAD_TEST_RECEIVER_URL";

/// Root may read a mode-000 file, so the refusal of an unreadable file is
/// checked by a copy of this test binary run as `nobody` (`setpriv`):
/// [`unreadable_file_as_another_user`], with its own engine and store.
async fn refused_when_unreadable_as_nobody(receiver_url: &str) {
    use std::os::unix::fs::PermissionsExt;
    // Everything the other user needs, in a directory it may enter.
    let shared = tempfile::tempdir().unwrap();
    set_mode(shared.path(), 0o755);
    let locked = shared.path().join("locked.bin");
    std::fs::write(&locked, b"secret").unwrap();
    set_mode(&locked, 0o000);
    let binary = shared.path().join("hostile_input");
    std::fs::copy(std::env::current_exe().unwrap(), &binary).unwrap();
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut command = std::process::Command::new("setpriv");
    command
        .arg(format!("--reuid={NOBODY}"))
        .arg(format!("--regid={NOBODY}"))
        .arg("--clear-groups")
        .arg("--")
        .arg(&binary)
        .args([
            "--ignored",
            "--exact",
            "unreadable_file_as_another_user",
            "--nocapture",
        ])
        .env(UNREADABLE_FILE_ENV, &locked)
        .env(RECEIVER_URL_ENV, receiver_url)
        .env("TMPDIR", std::env::temp_dir())
        .env("HOME", std::env::temp_dir());
    // Bounded: the child's own waits are (EVENT_TIMEOUT each).
    let output = tokio::time::timeout(
        TABLE_TIMEOUT,
        tokio::task::spawn_blocking(move || command.output()),
    )
    .await
    .expect("the run as another user ends in time")
    .expect("the run as another user is not cancelled")
    .expect("setpriv (util-linux) runs");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    assert!(
        output.status.success()
            && text(&output.stdout).contains("test unreadable_file_as_another_user ... ok"),
        "the unreadable-file row as uid {NOBODY} failed: {}\n{}\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    set_mode(&locked, 0o600);
}

/// Run by [`refused_when_unreadable_as_nobody`] as another user: an
/// unreadable file is refused with the reference plugin's wording, and
/// nothing accepted before is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by user_input_table as another user when the tests run as root"]
async fn unreadable_file_as_another_user() {
    let locked = PathBuf::from(std::env::var_os(UNREADABLE_FILE_ENV).expect(UNREADABLE_FILE_ENV));
    let url = std::env::var(RECEIVER_URL_ENV).expect(RECEIVER_URL_ENV);
    assert!(
        std::fs::File::open(&locked).is_err(),
        "this user can read {}: run as another user than its owner",
        locked.display()
    );
    let mut harness = Harness::start(short_timeouts(), &url).await;
    let row = "file this user may not read";
    let upload_id = new_id();
    run_row(
        &mut harness,
        row,
        payload(&upload_id, &locked, &url),
        &rejected(
            Some(&upload_id),
            ErrorCode::NoPermissionsToReadFile,
            format!("File is not readable: {}", locked.display()),
        ),
    )
    .await;
    harness.check_nothing_lost(row).await;
    harness.stop_and_check_store().await;
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Size of the files that change while sent: larger than anything the
/// socket buffers can take ahead of a reader limited to
/// [`CHANGE_THROTTLE`], so the change lands while the file is read.
const CHANGING_FILE_BYTES: usize = 32 * MIB;
const CHANGE_THROTTLE: u64 = 8 * MIB as u64;

/// A file that shrinks or grows while a throttled receiver reads it: the
/// attempt stops at once, FAILED -1102 with a "changed" message, and is
/// not retried (the message has no "gave up after" count).
async fn file_changes_while_sent(harness: &mut Harness) {
    let received_dir = tempfile::tempdir().unwrap();
    let slow = receiver(received_dir.path(), Some(CHANGE_THROTTLE)).await;
    let url = slow.url();
    for (row, change) in [
        ("file shrinks while sent", Change::Shrink),
        ("file grows while sent", Change::Grow),
    ] {
        let path = harness.file("changing.bin", &vec![7_u8; CHANGING_FILE_BYTES]);
        let id = new_id();
        harness
            .engine
            .start_upload(payload(&id, &path, &url))
            .await
            .unwrap();
        harness.first_progress_of(&id).await;
        let expected_tail = match change {
            Change::Shrink => {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .unwrap()
                    .set_len(MIB as u64)
                    .unwrap();
                None
            }
            Change::Grow => {
                let mut file = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .unwrap();
                std::io::Write::write_all(&mut file, b"0123456789").unwrap();
                Some(format!("found {}", CHANGING_FILE_BYTES + 10))
            }
        };
        let terminal = harness.terminal_of(&id).await;
        let start = format!(
            "file {} changed while it was being sent: expected {CHANGING_FILE_BYTES} bytes, found ",
            path.display()
        );
        let expect = Expect::Failed {
            code: ErrorCode::NoPermissionsToReadFile.code(),
            error: ErrorText::Between(start.clone(), String::new()),
        };
        check_terminal(row, &terminal, &expect);
        let Outcome::Failed { error, .. } = &terminal.outcome else {
            unreachable!()
        };
        let found: u64 = error[start.len()..]
            .parse()
            .unwrap_or_else(|_| panic!("{row}: {error:?} should end with the length found"));
        match (change, expected_tail) {
            (Change::Shrink, _) => assert!(found < CHANGING_FILE_BYTES as u64, "{row}: {error}"),
            (Change::Grow, Some(tail)) => assert!(error.ends_with(&tail), "{row}: {error}"),
            (Change::Grow, None) => unreachable!(),
        }
        assert!(!error.contains("gave up"), "{row}: retried: {error}");
        assert!(
            slow.received().is_empty(),
            "{row}: a changed file was received whole"
        );
        harness.acknowledge(&terminal).await;
        harness.check_nothing_lost(row).await;
    }
    slow.shutdown().await;
}

#[derive(Clone, Copy, Debug)]
enum Change {
    Shrink,
    Grow,
}

// ------------------------------------------------------------------ servers

/// How a purpose-built server misbehaves, after reading the request head
/// (and, unless said otherwise, the whole body).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Misbehaviour {
    /// Reads the request, never answers, keeps the connection open.
    NeverAnswers,
    /// Reads the request, then sends a status line and headers one byte
    /// every 200 ms, forever.
    TrickleHead,
    /// Answers a head with a 100,000-byte Content-Length, then sends the
    /// body one byte every 200 ms, forever.
    TrickleBody,
    /// Reads the head and 1 KiB of the body, then hangs up (RST).
    ClosesMidRequestBody,
    /// Answers a head with Content-Length 1,000, sends 10 bytes, hangs up.
    ClosesMidResponseBody,
    /// Answers 200 with a 1 MiB body.
    HugeBody,
    /// Answers 200 with a body that is not UTF-8.
    InvalidUtf8,
    /// Answers bytes that are not HTTP.
    Garbage,
    /// Answers 302 to another address.
    Redirect,
}

const HUGE_BODY_BYTES: usize = MIB;
const INVALID_UTF8_BODY: &[u8] = b"ok \xff\xfe end";
const TRICKLE_INTERVAL: Duration = Duration::from_millis(200);

/// A misbehaving server on 127.0.0.1; counts connections (one per attempt).
struct BadServer {
    url: String,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for BadServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl BadServer {
    async fn start(behaviour: Misbehaviour) -> BadServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/upload", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let task = tokio::spawn(async move {
            let mut handlers = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                handlers.spawn(misbehave(stream, behaviour));
            }
        });
        BadServer {
            url,
            connections,
            task,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Reads a request head; returns the declared body length and the body
/// bytes read past the head.
async fn read_head(stream: &mut TcpStream) -> Option<(usize, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0_u8; 8192];
    loop {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(0);
            return Some((length, buffer[end + 4..].to_vec()));
        }
        if buffer.len() > 64 * 1024 {
            return None;
        }
    }
}

async fn drain_body(stream: &mut TcpStream, length: usize, already: usize) -> Option<()> {
    let mut left = length.saturating_sub(already);
    let mut chunk = vec![0_u8; 64 * 1024];
    while left > 0 {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        left = left.saturating_sub(read);
    }
    Some(())
}

async fn misbehave(mut stream: TcpStream, behaviour: Misbehaviour) {
    let Some((length, already)) = read_head(&mut stream).await else {
        return;
    };
    if behaviour == Misbehaviour::ClosesMidRequestBody {
        let mut some = vec![0_u8; 1024];
        let _ = stream.read(&mut some).await;
        // RST rather than FIN: the client sees the connection reset.
        let _ = stream.set_zero_linger();
        return;
    }
    if drain_body(&mut stream, length, already.len())
        .await
        .is_none()
    {
        return;
    }
    let _ = answer(&mut stream, behaviour).await;
}

async fn answer(stream: &mut TcpStream, behaviour: Misbehaviour) -> std::io::Result<()> {
    match behaviour {
        Misbehaviour::NeverAnswers => std::future::pending().await,
        Misbehaviour::TrickleHead => {
            let head = b"HTTP/1.1 200 OK\r\nX-Slow: ";
            for byte in head.iter().chain(std::iter::repeat(&b'a')) {
                stream.write_all(&[*byte]).await?;
                tokio::time::sleep(TRICKLE_INTERVAL).await;
            }
            Ok(())
        }
        Misbehaviour::TrickleBody => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                .await?;
            loop {
                stream.write_all(b"x").await?;
                tokio::time::sleep(TRICKLE_INTERVAL).await;
            }
        }
        Misbehaviour::ClosesMidRequestBody => Ok(()),
        Misbehaviour::ClosesMidResponseBody => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
                .await?;
            stream.shutdown().await
        }
        Misbehaviour::HugeBody => {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {HUGE_BODY_BYTES}\r\n\r\n");
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&vec![b'x'; HUGE_BODY_BYTES]).await?;
            stream.shutdown().await
        }
        Misbehaviour::InvalidUtf8 => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                INVALID_UTF8_BODY.len()
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(INVALID_UTF8_BODY).await?;
            stream.shutdown().await
        }
        Misbehaviour::Garbage => {
            stream.write_all(b"SPDY/9 nonsense\r\n\r\n").await?;
            stream.shutdown().await
        }
        Misbehaviour::Redirect => {
            stream
                .write_all(
                    b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/elsewhere\r\nContent-Length: 0\r\n\r\n",
                )
                .await?;
            stream.shutdown().await
        }
    }
}

/// A URL on 127.0.0.1 where nothing listens (the port was just freed).
async fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/upload")
}

/// Servers that answer too much, answer garbage, trickle, never answer or
/// hang up: each row's server, the exact outcome, and how many attempts
/// (connections) it saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_table() {
    tokio::time::timeout(TABLE_TIMEOUT, server_rows())
        .await
        .expect("the table finishes in time");
}

async fn server_rows() {
    let received_dir = tempfile::tempdir().unwrap();
    let good = receiver(received_dir.path(), None).await;
    let mut harness = Harness::start(short_timeouts(), &good.url()).await;
    let small_file = harness.file("small.bin", b"small file");
    let large_file = harness.file("large.bin", &vec![3_u8; MIB]);
    let (small, large) = (small_file.as_path(), large_file.as_path());

    // The exact error of each row, given the server's URL.
    type ExpectFor = Box<dyn Fn(&str) -> Expect>;
    let timed_out: ExpectFor = Box::new(|url| {
        gave_up_exactly(
            ErrorCode::TimedOut.code(),
            format!("error sending request for url ({url}): operation timed out"),
        )
    });
    let rows: Vec<(&str, Misbehaviour, &Path, ExpectFor, usize)> = vec![
        (
            "server that never answers: read timeout, retried",
            Misbehaviour::NeverAnswers,
            small,
            timed_out,
            2,
        ),
        (
            "server that trickles its head: read timeout, retried",
            Misbehaviour::TrickleHead,
            small,
            Box::new(|url| {
                gave_up_exactly(
                    ErrorCode::TimedOut.code(),
                    format!("error sending request for url ({url}): operation timed out"),
                )
            }),
            2,
        ),
        (
            // F8 (fixed): every byte resets the idle clock, the answer's
            // deadline does not.
            "server that trickles its body: answer deadline, retried",
            Misbehaviour::TrickleBody,
            small,
            Box::new(|url| {
                gave_up_exactly(
                    ErrorCode::TimedOut.code(),
                    format!("error reading the answer from {url}: not complete within 2 s"),
                )
            }),
            2,
        ),
        (
            // Reset or broken pipe, depending on when the RST lands.
            "server that hangs up mid request body: retried",
            Misbehaviour::ClosesMidRequestBody,
            large,
            Box::new(|url| {
                gave_up(
                    ErrorCode::NetworkConnectionLost.code(),
                    format!("error sending request for url ({url}): client error (SendRequest): "),
                )
            }),
            2,
        ),
        (
            // The head came, the body did not: a transport error, retried
            // (the server may have taken the upload: the app sees FAILED).
            "server that hangs up mid response body: retried",
            Misbehaviour::ClosesMidResponseBody,
            small,
            Box::new(|_| {
                gave_up_exactly(
                    ErrorCode::NetworkConnectionLost.code(),
                    "error decoding response body: error reading a body from connection: \
                     end of file before message length reached",
                )
            }),
            2,
        ),
        (
            "server that answers garbage: retried",
            Misbehaviour::Garbage,
            small,
            Box::new(|url| {
                gave_up_exactly(
                    ErrorCode::NetworkConnectionLost.code(),
                    format!(
                        "error sending request for url ({url}): client error (SendRequest): \
                         invalid HTTP version parsed"
                    ),
                )
            }),
            2,
        ),
        (
            "server that answers 1 MiB: kept up to the limit, truncated",
            Misbehaviour::HugeBody,
            small,
            Box::new(|_| Expect::Uploaded { status: 200 }),
            1,
        ),
        (
            "server that answers invalid UTF-8: U+FFFD",
            Misbehaviour::InvalidUtf8,
            small,
            Box::new(|_| Expect::Uploaded { status: 200 }),
            1,
        ),
        (
            "server that redirects: the redirect is the answer",
            Misbehaviour::Redirect,
            small,
            Box::new(|_| Expect::Uploaded { status: 302 }),
            1,
        ),
    ];
    for (row, behaviour, file, expect, attempts) in rows {
        let server = BadServer::start(behaviour).await;
        let id = new_id();
        let expect = expect(&server.url);
        let terminal = run_row(&mut harness, row, payload(&id, file, &server.url), &expect)
            .await
            .expect("a terminal event");
        assert_eq!(server.connections(), attempts, "{row}: attempts");
        let Outcome::Uploaded {
            server_response,
            response_truncated,
            ..
        } = &terminal.outcome
        else {
            harness.check_nothing_lost(row).await;
            continue;
        };
        let json = event_to_json(&Event::Terminal(terminal.clone()));
        let shown = json["serverResponse"].as_str().unwrap();
        assert_eq!(shown, server_response, "{row}");
        match behaviour {
            Misbehaviour::HugeBody => {
                assert_eq!(server_response.len(), MAX_RESPONSE_BYTES, "{row}");
                assert!(server_response.bytes().all(|byte| byte == b'x'), "{row}");
                assert!(*response_truncated, "{row}");
            }
            Misbehaviour::InvalidUtf8 => {
                assert_eq!(server_response, "ok \u{fffd}\u{fffd} end", "{row}");
                assert!(!*response_truncated, "{row}");
            }
            Misbehaviour::Redirect => {
                assert_eq!(server_response, "", "{row}");
                assert!(!*response_truncated, "{row}");
            }
            _ => unreachable!("{row}"),
        }
        harness.check_nothing_lost(row).await;
    }

    let row = "nothing listens: cannot connect, retried";
    let id = new_id();
    let url = refused_url().await;
    run_row(
        &mut harness,
        row,
        payload(&id, small, &url),
        &gave_up_exactly(
            ErrorCode::CannotConnectToHost.code(),
            format!(
                "error sending request for url ({url}): client error (Connect): \
                 tcp connect error: Connection refused (os error 111)"
            ),
        ),
    )
    .await;
    harness.check_nothing_lost(row).await;

    // #16: a URL's userinfo and query never reach an error text (it is
    // persisted, delivered and printed). Before: the full URL, `sig=SECRET`.
    let row = "nothing listens, secrets in the URL: the error shows scheme://host:port/path";
    let id = new_id();
    let plain = refused_url().await;
    let secret = plain.replacen("http://", "http://user:pass@", 1) + "?sig=SECRET#frag";
    let terminal = run_row(
        &mut harness,
        row,
        payload(&id, small, &secret),
        &gave_up_exactly(
            ErrorCode::CannotConnectToHost.code(),
            format!(
                "error sending request for url ({plain}): client error (Connect): \
                 tcp connect error: Connection refused (os error 111)"
            ),
        ),
    )
    .await
    .expect("accepted");
    let shown = event_to_json(&Event::Terminal(terminal)).to_string();
    for leaked in ["SECRET", "pass", "frag"] {
        assert!(!shown.contains(leaked), "{row}: {shown}");
    }
    harness.check_nothing_lost(row).await;

    certificate_refused_at_once(&mut harness, small).await;
    long_send_is_no_timeout(&mut harness).await;
    attempt_longer_than_its_limit().await;

    harness.stop_and_check_store().await;
    good.shutdown().await;
}

/// #16: a server whose TLS certificate is refused (self-signed, from
/// `openssl s_server` on 127.0.0.1) is final at once with -1202, not a
/// retried -1004 spending every attempt. Skipped, and said so, where the
/// `openssl` command is missing (`.ci/run` installs it).
async fn certificate_refused_at_once(harness: &mut Harness, file: &Path) {
    let row = "TLS certificate refused: -1202 at once, no retry";
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status();
    if !made.is_ok_and(|status| status.success()) {
        eprintln!("{row}: SKIPPED, no openssl command");
        return;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new("openssl")
        .args(["s_server", "-quiet", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(
            started.elapsed() < EVENT_TIMEOUT,
            "{row}: openssl s_server did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let url = format!("https://127.0.0.1:{port}/upload");
    let expect = Expect::Failed {
        code: ErrorCode::ServerCertificateUntrusted.code(),
        error: ErrorText::Between(
            format!("error sending request for url ({url}): client error (Connect): "),
            String::new(),
        ),
    };
    let terminal = run_row(harness, row, payload(&new_id(), file, &url), &expect)
        .await
        .expect("accepted");
    if let Outcome::Failed { error, .. } = &terminal.outcome {
        assert!(error.contains("certificate"), "{row}: {error}");
        assert!(
            !error.contains("gave up after"),
            "{row}: one attempt only: {error}"
        );
    }
    let _ = server.kill();
    let _ = server.wait();
    harness.check_nothing_lost(row).await;
}

/// F7 (fixed): `HttpConfig::read_timeout` is the longest silence while
/// sending or receiving, not a bound on the whole send: 24 MiB to a
/// receiver reading 8 MiB/s under a 1 s read timeout takes ~3 s and is
/// UPLOADED (the rate keeps the kernel buffers' drain well under 1 s).
async fn long_send_is_no_timeout(harness: &mut Harness) {
    let row = "upload longer than the read timeout (F7)";
    let received_dir = tempfile::tempdir().unwrap();
    let slow = receiver(received_dir.path(), Some(8 * MIB as u64)).await;
    let file = harness.file("twenty-four.bin", &vec![5_u8; 24 * MIB]);
    let id = new_id();
    let url = slow.url();
    harness
        .engine
        .start_upload(payload(&id, &file, &url))
        .await
        .unwrap();
    harness.first_progress_of(&id).await;
    let terminal = harness.terminal_of(&id).await;
    assert!(
        matches!(
            terminal.outcome,
            bgupload_fsm::Outcome::Uploaded {
                status_code: 201,
                ..
            }
        ),
        "{row}: {terminal:?}"
    );
    assert_eq!(slow.received().len(), 1, "{row}");
    harness.acknowledge(&terminal).await;
    harness.check_nothing_lost(row).await;
    slow.shutdown().await;
}

/// `HttpConfig::attempt_timeout` bounds an attempt that keeps moving: the
/// same 24 MiB at 8 MiB/s (~3 s, never idle for 1 s) under a 1.5 s limit
/// fails every attempt with -1001 and ends FAILED after the retries.
async fn attempt_longer_than_its_limit() {
    let row = "upload longer than the attempt limit";
    let received_dir = tempfile::tempdir().unwrap();
    let slow = receiver(received_dir.path(), Some(8 * MIB as u64)).await;
    let mut harness = Harness::start(
        HttpConfig {
            attempt_timeout: Duration::from_millis(1500),
            ..short_timeouts()
        },
        &slow.url(),
    )
    .await;
    let file = harness.file("twenty-four.bin", &vec![6_u8; 24 * MIB]);
    let id = new_id();
    let url = slow.url();
    run_row(
        &mut harness,
        row,
        payload(&id, &file, &url),
        &gave_up_exactly(
            ErrorCode::TimedOut.code(),
            format!("upload to {url} not complete within 1.5 s"),
        ),
    )
    .await;
    // The sentinel only: a cut attempt leaves nothing behind.
    assert_eq!(slow.received().len(), 1, "{row}: the receiver kept a part");
    harness.check_nothing_lost(row).await;
    harness.stop_and_check_store().await;
    slow.shutdown().await;
}
