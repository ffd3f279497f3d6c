//! The reference plugin's scenarios against the real engine: `Engine` +
//! `FjallStore` in a temporary directory + `HttpTransport`, sending to two
//! receivers on 127.0.0.1 with different multipart parsers:
//!
//! - the embedded receiver (`bgupload_io::receiver`, on `multer`), and
//! - `tests/receivers/python_multipart_server.py` (PyPI `python-multipart`).
//!
//! The Python receiver is required: when `python3` or `python-multipart` is
//! missing these tests fail with the install command
//! (`python3 -m pip install python-multipart`). Every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a test or bench: failing loudly is the point

use bgupload::fsm::{
    BodyFormat, Config, Event, EventId, Outcome, ProgressThrottle, RetryPolicy, TerminalEvent,
    UploadPayload,
};
use bgupload::io::driver::DriverTask;
use bgupload::io::{Engine, EngineOptions, HttpConfig, HttpTransport, StoreCalls, event_to_json};
use bgupload::persistence::FjallStore;
use bgupload::receiver::{Receiver, ReceiverConfig};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Upper bound of any one test.
const TEST_TIMEOUT: Duration = Duration::from_secs(90);
/// Upper bound of a wait for one event.
const EVENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the Python receiver may take to say it listens.
const PYTHON_READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Quiet period after a terminal event in which no event of that upload may come.
const AFTER_TERMINAL_QUIET: Duration = Duration::from_millis(400);
const PYTHON_RECEIVER: &str = "tests/receivers/python_multipart_server.py";
const PYTHON_INSTALL: &str = "python3 -m pip install python-multipart";

const MIB: u64 = 1024 * 1024;

#[path = "scenarios/queue_control.rs"]
mod queue_control;

// ---------------------------------------------------------------- files

/// Writes `size` seeded pseudo-random bytes; returns the sha256.
fn write_file(path: &Path, size: u64, seed: u64) -> String {
    bgupload::pattern::write_pattern_file(path, size, seed).unwrap()
}

fn sha256_of(path: &Path) -> String {
    let mut file = std::fs::File::open(path).unwrap();
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let read = file.read(&mut buffer).unwrap();
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    hex::encode(hasher.finalize())
}

// ---------------------------------------------------------------- receivers

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Embedded,
    Python,
}

/// Faults a receiver is started with.
#[derive(Clone, Copy, Debug, Default)]
struct Setup {
    throttle_bytes_per_sec: Option<u64>,
    /// Embedded only (the Python one takes `/status/NNN/` in the URL).
    status_override: Option<u16>,
    /// Embedded only.
    max_body_bytes: Option<u64>,
}

/// A Python receiver process, killed when dropped.
struct PythonServer {
    child: Child,
    port: u16,
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PythonServer {
    fn start(dir: &Path, throttle: Option<u64>) -> PythonServer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(PYTHON_RECEIVER);
        let mut command = Command::new("python3");
        command
            .arg(&script)
            .arg("--dir")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(rate) = throttle {
            command.arg("--throttle").arg(rate.to_string());
        }
        let mut child = command.spawn().unwrap_or_else(|error| {
            panic!(
                "cannot run python3 for the second receiver ({error}); \
                 install Python 3 and then: {PYTHON_INSTALL}"
            )
        });
        let stdout = child.stdout.take().unwrap();
        let (lines, ready) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut first = String::new();
            let _ = BufReader::new(stdout).read_line(&mut first);
            let _ = lines.send(first);
        });
        let first_line = ready.recv_timeout(PYTHON_READY_TIMEOUT).unwrap_or_default();
        let port = first_line
            .strip_prefix("READY ")
            .and_then(|port| port.trim().parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            let status = child.wait().ok();
            panic!(
                "the python-multipart receiver did not start (exit {status:?}): {}\n\
                 install its parser with: {PYTHON_INSTALL}",
                stderr.trim()
            );
        };
        PythonServer { child, port }
    }
}

/// One of the two receivers, in its own temporary directory.
struct TestReceiver {
    kind: Kind,
    embedded: Option<Receiver>,
    python: Option<PythonServer>,
    _dir: tempfile::TempDir,
}

impl TestReceiver {
    async fn start(kind: Kind, setup: Setup) -> TestReceiver {
        let dir = tempfile::tempdir().unwrap();
        let received = dir.path().join("received");
        match kind {
            Kind::Embedded => {
                let mut config = ReceiverConfig::loopback(&received);
                config.throttle_bytes_per_sec = setup.throttle_bytes_per_sec;
                config.status_override = setup.status_override;
                config.max_body_bytes = setup.max_body_bytes;
                TestReceiver {
                    kind,
                    embedded: Some(Receiver::start(config).await.unwrap()),
                    python: None,
                    _dir: dir,
                }
            }
            Kind::Python => {
                assert!(setup.status_override.is_none() && setup.max_body_bytes.is_none());
                let server = tokio::task::spawn_blocking(move || {
                    PythonServer::start(&received, setup.throttle_bytes_per_sec)
                })
                .await
                .unwrap();
                TestReceiver {
                    kind,
                    embedded: None,
                    python: Some(server),
                    _dir: dir,
                }
            }
        }
    }

    fn base(&self) -> String {
        match (&self.embedded, &self.python) {
            (Some(receiver), _) => format!("http://{}", receiver.addr()),
            (None, Some(server)) => format!("http://127.0.0.1:{}", server.port),
            (None, None) => unreachable!(),
        }
    }

    fn url(&self) -> String {
        format!("{}/upload", self.base())
    }

    /// The Python receiver's counters: `{maxConcurrent, completed, received}`.
    async fn python_stats(&self) -> Value {
        let url = format!("{}/stats", self.base());
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .no_proxy()
            .build()
            .unwrap();
        let body = client.get(url).send().await.unwrap().bytes().await.unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    /// Uploads the receiver completed.
    async fn completed(&self) -> u64 {
        match self.kind {
            Kind::Embedded => self.embedded.as_ref().unwrap().received().len() as u64,
            Kind::Python => self.python_stats().await["completed"].as_u64().unwrap(),
        }
    }

    /// Text fields of the `index`-th completed upload, in arrival order.
    async fn parameters(&self, index: usize) -> Vec<(String, String)> {
        match self.kind {
            Kind::Embedded => self.embedded.as_ref().unwrap().received()[index]
                .parameters
                .clone(),
            Kind::Python => {
                let stats = self.python_stats().await;
                stats["received"][index]["parameterOrder"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|pair| {
                        (
                            pair[0].as_str().unwrap().to_owned(),
                            pair[1].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect()
            }
        }
    }

    /// HTTP method of the `index`-th completed upload.
    async fn method(&self, index: usize) -> String {
        match self.kind {
            Kind::Embedded => self.embedded.as_ref().unwrap().received()[index]
                .method
                .clone(),
            Kind::Python => self.python_stats().await["received"][index]["method"]
                .as_str()
                .unwrap()
                .to_owned(),
        }
    }
}

// ---------------------------------------------------------------- engine

/// A real engine on a store in `data_dir`, its events timestamped.
struct Harness {
    engine: Engine,
    task: DriverTask,
    events: mpsc::UnboundedReceiver<(Instant, Event)>,
    /// Every event seen so far, in order.
    log: Vec<(Instant, Event)>,
}

fn test_config(parallel: u32) -> Config {
    Config {
        parallel_uploads_limit: parallel,
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff_millis: 100,
            max_backoff_millis: 1_000,
        },
        progress: ProgressThrottle {
            min_interval_millis: 0,
            min_percent_step: 1,
        },
        ..Config::default()
    }
}

impl Harness {
    async fn start(data_dir: &Path, config: Config) -> Harness {
        let store = Arc::new(FjallStore::open(&data_dir.join("store")).unwrap());
        let transport = Arc::new(HttpTransport::new(HttpConfig::default()).unwrap());
        let options = EngineOptions {
            machine: bgupload::fsm::Options::new(7),
            store_calls: StoreCalls::Blocking,
        };
        let (engine, task) = Engine::start(store, transport, options).await.unwrap();
        let (sender, events) = mpsc::unbounded_channel();
        engine
            .init(
                config,
                Box::new(move |event| {
                    let _ = sender.send((Instant::now(), event));
                }),
            )
            .await
            .unwrap();
        Harness {
            engine,
            task,
            events,
            log: Vec::new(),
        }
    }

    /// Stops the engine and waits until the store is closed.
    async fn stop(self) {
        self.engine.shutdown().await;
        drop(self.engine);
        tokio::time::timeout(EVENT_TIMEOUT, self.task)
            .await
            .expect("driver stops")
            .unwrap()
            .unwrap();
    }

    async fn next_event(&mut self) -> Event {
        let (at, event) = tokio::time::timeout(EVENT_TIMEOUT, self.events.recv())
            .await
            .expect("an event within the timeout")
            .expect("the engine is running");
        self.log.push((at, event.clone()));
        event
    }

    /// Events already delivered, without waiting.
    fn drain(&mut self) -> Vec<Event> {
        let mut drained = Vec::new();
        while let Ok((at, event)) = self.events.try_recv() {
            self.log.push((at, event.clone()));
            drained.push(event);
        }
        drained
    }

    /// Waits for a terminal event of each id; returns them by id.
    async fn terminals(&mut self, ids: &[String]) -> HashMap<String, TerminalEvent> {
        let mut found = HashMap::new();
        while found.len() < ids.len() {
            if let Event::Terminal(terminal) = self.next_event().await {
                let id = terminal.upload_id.as_str().to_owned();
                if ids.contains(&id) {
                    assert!(
                        found.insert(id, terminal).is_none(),
                        "two terminal events for one upload"
                    );
                }
            }
        }
        found
    }

    /// Waits a quiet period and checks that no event of `id` follows its
    /// terminal event.
    async fn assert_nothing_after_terminal(&mut self, id: &str) {
        tokio::time::sleep(AFTER_TERMINAL_QUIET).await;
        self.drain();
        let terminal_at = self
            .log
            .iter()
            .position(
                |(_, event)| matches!(event, Event::Terminal(t) if t.upload_id.as_str() == id),
            )
            .expect("a terminal event");
        for (_, event) in &self.log[terminal_at + 1..] {
            let about = match event {
                Event::Progress { upload_id, .. } => upload_id.as_str() == id,
                Event::Terminal(terminal) => terminal.upload_id.as_str() == id,
                Event::Rejected(rejection) => rejection.id.as_deref() == Some(id),
            };
            assert!(!about, "event after the terminal one: {event:?}");
        }
    }

    /// Progress values of `id`, in order.
    fn progress_of(&self, id: &str) -> Vec<u8> {
        self.log
            .iter()
            .filter_map(|(_, event)| match event {
                Event::Progress {
                    upload_id,
                    progress,
                } if upload_id.as_str() == id => Some(*progress),
                _ => None,
            })
            .collect()
    }
}

fn payload(id: &str, file: &Path, url: &str) -> UploadPayload {
    UploadPayload {
        id: Some(id.to_owned()),
        file_path: Some(file.to_string_lossy().into_owned()),
        server_url: Some(url.to_owned()),
        ..UploadPayload::default()
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn uploaded(event: &TerminalEvent) -> (u16, Value) {
    match &event.outcome {
        Outcome::Uploaded {
            status_code,
            server_response,
            ..
        } => (
            *status_code,
            serde_json::from_str(server_response).unwrap_or(Value::Null),
        ),
        Outcome::Failed { error, .. } | Outcome::FailedByServer { error, .. } => {
            panic!(
                "expected UPLOADED, got FAILED {:?}: {error}",
                event.outcome.error_code()
            )
        }
    }
}

fn failed(event: &TerminalEvent) -> (i32, String) {
    match &event.outcome {
        Outcome::Failed { error, error_code } => (*error_code, error.clone()),
        Outcome::FailedByServer {
            error, status_code, ..
        } => (i32::from(*status_code), error.clone()),
        Outcome::Uploaded { status_code, .. } => {
            panic!("expected FAILED, got UPLOADED {status_code}")
        }
    }
}

/// Runs a scenario under [`TEST_TIMEOUT`].
async fn bounded<F: std::future::Future<Output = ()>>(scenario: F) {
    tokio::time::timeout(TEST_TIMEOUT, scenario)
        .await
        .expect("scenario finished within its time limit");
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

// ---------------------------------------------------------------- scenarios

/// POST with progress, custom file key, parameters in order and headers:
/// UPLOADING 0–100 (never after the end), then UPLOADED 201 with the echo.
async fn post_with_progress_fields_and_headers(kind: Kind) {
    let receiver = TestReceiver::start(
        kind,
        Setup {
            throttle_bytes_per_sec: Some(4 * MIB),
            ..Setup::default()
        },
    )
    .await;
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("holiday photo.jpg");
    let sha256 = write_file(&file, 2 * MIB, 1);
    let mut harness = Harness::start(data.path(), test_config(1)).await;
    let id = new_id();
    let parameters = vec![
        ("zeta".to_owned(), "last letter".to_owned()),
        ("alpha".to_owned(), "first".to_owned()),
        ("mid".to_owned(), "3".to_owned()),
    ];
    let upload = UploadPayload {
        file_key: Some("attachment".into()),
        headers: vec![
            ("X-Api-Key".into(), "k-123".into()),
            ("X-Trace".into(), "trace 7".into()),
        ],
        parameters: parameters.clone(),
        ..payload(&id, &file, &receiver.url())
    };
    harness.engine.start_upload(upload).await.unwrap();
    let terminal = harness
        .terminals(std::slice::from_ref(&id))
        .await
        .remove(&id)
        .unwrap();
    harness.assert_nothing_after_terminal(&id).await;

    let progress = harness.progress_of(&id);
    assert!(!progress.is_empty(), "no UPLOADING event");
    assert!(
        progress.iter().all(|percent| *percent <= 100),
        "{progress:?}"
    );
    assert!(
        progress.windows(2).all(|pair| pair[0] <= pair[1]),
        "{progress:?}"
    );

    let (status, echo) = uploaded(&terminal);
    assert_eq!(status, 201);
    let info = &echo["receivedInfo"];
    assert_eq!(info["originalFilename"], "holiday photo.jpg");
    assert_eq!(info["fileKey"], "attachment");
    assert_eq!(info["headers"]["x-api-key"], "k-123");
    assert_eq!(info["headers"]["x-trace"], "trace 7");
    assert_eq!(info["parameters"]["alpha"], "first");
    assert_eq!(info["size"], 2 * MIB);
    assert_eq!(info["sha256"], sha256.as_str());
    assert_eq!(
        receiver.parameters(0).await,
        parameters,
        "parameters in order"
    );

    let json = event_to_json(&Event::Terminal(terminal.clone()));
    assert_eq!(
        keys(&json),
        ["eventId", "id", "serverResponse", "state", "statusCode"]
            .map(String::from)
            .into()
    );
    assert_eq!(json["state"], "UPLOADED");
    assert_eq!(json["id"], id.as_str());
    assert_eq!(json["eventId"], terminal.event_id.to_string().as_str());
    harness
        .engine
        .acknowledge_event(terminal.event_id)
        .await
        .unwrap();
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_with_progress_fields_and_headers_embedded() {
    bounded(post_with_progress_fields_and_headers(Kind::Embedded)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_with_progress_fields_and_headers_python() {
    bounded(post_with_progress_fields_and_headers(Kind::Python)).await;
}

/// PUT answers 200, multipart and raw alike; a raw body is the file itself.
async fn put_answers_200(kind: Kind) {
    let receiver = TestReceiver::start(kind, Setup::default()).await;
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("report.pdf");
    let sha256 = write_file(&file, 300 * 1024, 2);
    let mut harness = Harness::start(data.path(), test_config(1)).await;
    let multipart_id = new_id();
    let raw_id = new_id();
    harness
        .engine
        .start_upload(UploadPayload {
            request_method: Some("PUT".into()),
            ..payload(&multipart_id, &file, &receiver.url())
        })
        .await
        .unwrap();
    harness
        .engine
        .start_upload(UploadPayload {
            request_method: Some("put".into()),
            body_format: BodyFormat::Raw,
            ..payload(&raw_id, &file, &format!("{}/report.pdf", receiver.base()))
        })
        .await
        .unwrap();
    let results = harness
        .terminals(&[multipart_id.clone(), raw_id.clone()])
        .await;
    for id in [&multipart_id, &raw_id] {
        let (status, echo) = uploaded(&results[id]);
        assert_eq!(status, 200, "{id}");
        assert_eq!(echo["receivedInfo"]["sha256"], sha256.as_str());
        assert_eq!(echo["receivedInfo"]["originalFilename"], "report.pdf");
    }
    assert_eq!(
        results[&raw_id].event_id.0,
        results[&multipart_id].event_id.0 + 1,
        "limit 1: in order"
    );
    assert_eq!(receiver.method(0).await, "PUT");
    assert_eq!(receiver.method(1).await, "PUT");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_answers_200_embedded() {
    bounded(put_answers_200(Kind::Embedded)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_answers_200_python() {
    bounded(put_answers_200(Kind::Python)).await;
}

/// Six uploads under parallelUploadsLimit 3: never more than three in
/// flight (from each upload's first UPLOADING to its result, and on the
/// Python receiver by its own counter of concurrent requests), and the
/// throttled receiver makes them take at least two waves.
async fn parallel_limit_holds(kind: Kind) {
    const FILES: usize = 6;
    const SIZE: u64 = MIB;
    const RATE: u64 = 2 * MIB;
    let receiver = TestReceiver::start(
        kind,
        Setup {
            throttle_bytes_per_sec: Some(RATE),
            ..Setup::default()
        },
    )
    .await;
    let data = tempfile::tempdir().unwrap();
    let mut harness = Harness::start(data.path(), test_config(3)).await;
    let mut ids = Vec::new();
    let mut hashes = HashMap::new();
    let started = Instant::now();
    for index in 0..FILES {
        let file = data.path().join(format!("part-{index}.bin"));
        let id = new_id();
        hashes.insert(id.clone(), write_file(&file, SIZE, 10 + index as u64));
        harness
            .engine
            .start_upload(payload(&id, &file, &receiver.url()))
            .await
            .unwrap();
        ids.push(id);
    }
    let results = harness.terminals(&ids).await;
    let elapsed = started.elapsed();
    for id in &ids {
        let (status, echo) = uploaded(&results[id]);
        assert_eq!(status, 201);
        assert_eq!(echo["receivedInfo"]["sha256"], hashes[id].as_str());
    }

    // Observed in-flight intervals: first UPLOADING .. terminal event.
    let mut changes: Vec<(Instant, i32)> = Vec::new();
    for id in &ids {
        let first = harness.log.iter().find(|(_, event)| {
            matches!(event, Event::Progress { upload_id, .. } if upload_id.as_str() == id)
        });
        let last = harness
            .log
            .iter()
            .find(|(_, event)| matches!(event, Event::Terminal(t) if t.upload_id.as_str() == id));
        if let (Some((start, _)), Some((end, _))) = (first, last) {
            changes.push((*start, 1));
            changes.push((*end, -1));
        }
    }
    // Ends before starts at the same instant.
    changes.sort_by_key(|(at, delta)| (*at, *delta));
    let mut current = 0;
    let mut most = 0;
    for (_, delta) in changes {
        current += delta;
        most = most.max(current);
    }
    assert!(most <= 3, "{most} uploads in flight at once");
    assert!(
        most >= 2,
        "uploads did not run in parallel (at most {most})"
    );
    let one_upload = Duration::from_secs_f64(SIZE as f64 / RATE as f64);
    assert!(
        elapsed >= one_upload.mul_f64(2.0 * 0.9),
        "{FILES} uploads of {one_upload:?} each took only {elapsed:?}: more than 3 at once?"
    );
    if kind == Kind::Python {
        let stats = receiver.python_stats().await;
        let concurrent = stats["maxConcurrent"].as_u64().unwrap();
        assert!(
            (2..=3).contains(&concurrent),
            "receiver saw {concurrent} concurrent requests"
        );
        assert_eq!(stats["completed"], FILES as u64);
    }
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_limit_holds_embedded() {
    bounded(parallel_limit_holds(Kind::Embedded)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_limit_holds_python() {
    bounded(parallel_limit_holds(Kind::Python)).await;
}

/// removeUpload while the file is being sent: FAILED -999 with an eventId,
/// nothing after it, and the receiver never completes the upload.
async fn remove_during_upload(kind: Kind) {
    let receiver = TestReceiver::start(
        kind,
        Setup {
            throttle_bytes_per_sec: Some(MIB),
            ..Setup::default()
        },
    )
    .await;
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("big.bin");
    write_file(&file, 24 * MIB, 3);
    let mut harness = Harness::start(data.path(), test_config(1)).await;
    let id = new_id();
    harness
        .engine
        .start_upload(payload(&id, &file, &receiver.url()))
        .await
        .unwrap();
    loop {
        if let Event::Progress { upload_id, .. } = harness.next_event().await
            && upload_id.as_str() == id
        {
            break;
        }
    }
    harness.engine.remove_upload(&id).await.unwrap();
    let terminal = harness
        .terminals(std::slice::from_ref(&id))
        .await
        .remove(&id)
        .unwrap();
    let (code, error) = failed(&terminal);
    assert_eq!(code, -999);
    assert!(error.to_lowercase().contains("cancel"), "{error}");
    harness.assert_nothing_after_terminal(&id).await;
    let json = event_to_json(&Event::Terminal(terminal));
    assert_eq!(
        keys(&json),
        ["error", "errorCode", "eventId", "id", "state"]
            .map(String::from)
            .into()
    );
    assert_eq!(json["errorCode"], -999);
    assert_eq!(
        receiver.completed().await,
        0,
        "a cancelled upload completed"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_during_upload_embedded() {
    bounded(remove_during_upload(Kind::Embedded)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_during_upload_python() {
    bounded(remove_during_upload(Kind::Python)).await;
}

/// Any HTTP answer is UPLOADED with its status (reference behaviour).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_uploaded_with_their_status() {
    bounded(async {
        let data = tempfile::tempdir().unwrap();
        let file = data.path().join("doc.txt");
        write_file(&file, 64 * 1024, 4);
        let unavailable = TestReceiver::start(
            Kind::Embedded,
            Setup {
                status_override: Some(503),
                ..Setup::default()
            },
        )
        .await;
        let too_large = TestReceiver::start(
            Kind::Embedded,
            Setup {
                max_body_bytes: Some(1024),
                ..Setup::default()
            },
        )
        .await;
        let python = TestReceiver::start(Kind::Python, Setup::default()).await;
        let cases = [
            (unavailable.url(), 503),
            (too_large.url(), 413),
            (format!("{}/status/500/upload", python.base()), 500),
        ];
        let mut harness = Harness::start(data.path(), test_config(1)).await;
        let mut ids = Vec::new();
        for (url, _) in &cases {
            let id = new_id();
            harness
                .engine
                .start_upload(payload(&id, &file, url))
                .await
                .unwrap();
            ids.push(id);
        }
        let results = harness.terminals(&ids).await;
        for (id, (url, expected)) in ids.iter().zip(&cases) {
            let (status, _) = uploaded(&results[id]);
            assert_eq!(status, *expected, "{url}");
        }
        harness.stop().await;
    })
    .await;
}

/// A URL where nothing listens: transport errors, retried, then FAILED with
/// the transport's code and an eventId.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_url_fails_after_retries() {
    bounded(async {
        let data = tempfile::tempdir().unwrap();
        let file = data.path().join("a.txt");
        write_file(&file, 1024, 5);
        let mut config = test_config(1);
        config.retry = RetryPolicy {
            max_attempts: 2,
            initial_backoff_millis: 50,
            max_backoff_millis: 100,
        };
        let mut harness = Harness::start(data.path(), config).await;
        let id = new_id();
        let started = Instant::now();
        harness
            .engine
            .start_upload(payload(&id, &file, "http://127.0.0.1:1/upload"))
            .await
            .unwrap();
        let terminal = harness
            .terminals(std::slice::from_ref(&id))
            .await
            .remove(&id)
            .unwrap();
        let (code, error) = failed(&terminal);
        assert_eq!(
            code,
            bgupload::fsm::ErrorCode::CannotConnectToHost.code(),
            "{error}"
        );
        // Equal jitter: the one backoff is at least half the initial one.
        assert!(started.elapsed() >= Duration::from_millis(25), "no backoff");
        let json = event_to_json(&Event::Terminal(terminal));
        assert_eq!(json["state"], "FAILED");
        assert!(json["eventId"].is_string(), "{json}");
        harness.stop().await;
    })
    .await;
}

/// A file that does not exist: refused at once, FAILED without eventId,
/// with the reference message and the code of the one table; nothing is
/// stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_file_is_rejected_without_event_id() {
    bounded(async {
        let data = tempfile::tempdir().unwrap();
        let missing = data.path().join("not-there.jpg");
        let mut harness = Harness::start(data.path(), test_config(1)).await;
        let id = new_id();
        let refusal = harness
            .engine
            .start_upload(payload(&id, &missing, "http://127.0.0.1:9/upload"))
            .await
            .unwrap_err();
        let message = format!("File not found: {}", missing.display());
        assert_eq!(refusal.to_string(), message);
        let event = harness.next_event().await;
        let json = event_to_json(&event);
        assert_eq!(
            json,
            serde_json::json!({"id": id, "state": "FAILED", "error": message, "errorCode": -1100})
        );
        harness.stop().await;
        // Nothing was stored: a relaunch delivers nothing.
        let mut relaunched = Harness::start(data.path(), test_config(1)).await;
        assert!(relaunched.drain().is_empty());
        relaunched.stop().await;
    })
    .await;
}

/// Results persist until acknowledged: after a restart the unacknowledged
/// one comes again, identical (same eventId); the acknowledged one never.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_event_survives_restart() {
    bounded(async {
        let receiver = TestReceiver::start(Kind::Embedded, Setup::default()).await;
        let data = tempfile::tempdir().unwrap();
        let file = data.path().join("a.txt");
        write_file(&file, 10_000, 6);
        let mut harness = Harness::start(data.path(), test_config(2)).await;
        let (first, second) = (new_id(), new_id());
        for id in [&first, &second] {
            harness
                .engine
                .start_upload(payload(id, &file, &receiver.url()))
                .await
                .unwrap();
        }
        let results = harness.terminals(&[first.clone(), second.clone()]).await;
        harness
            .engine
            .acknowledge_event(results[&first].event_id)
            .await
            .unwrap();
        harness.stop().await;

        let mut relaunched = Harness::start(data.path(), test_config(2)).await;
        // init returns once every stored event was delivered.
        let delivered = relaunched.drain();
        assert_eq!(
            delivered,
            vec![Event::Terminal(results[&second].clone())],
            "only the unacknowledged event, identical"
        );
        // init again: delivered again.
        let (sender, mut again) = mpsc::unbounded_channel();
        relaunched
            .engine
            .init(
                test_config(2),
                Box::new(move |event| {
                    let _ = sender.send(event);
                }),
            )
            .await
            .unwrap();
        assert_eq!(
            again.try_recv().unwrap(),
            Event::Terminal(results[&second].clone())
        );
        relaunched
            .engine
            .acknowledge_event(results[&second].event_id)
            .await
            .unwrap();
        relaunched.stop().await;

        let mut third = Harness::start(data.path(), test_config(2)).await;
        assert!(third.drain().is_empty(), "an acknowledged event came back");
        // A new event gets a new id, never a reused one.
        let id = new_id();
        third
            .engine
            .start_upload(payload(&id, &file, &receiver.url()))
            .await
            .unwrap();
        let result = third
            .terminals(std::slice::from_ref(&id))
            .await
            .remove(&id)
            .unwrap();
        let used: BTreeMap<EventId, ()> = results.values().map(|e| (e.event_id, ())).collect();
        assert!(result.event_id > *used.keys().max().unwrap());
        third.stop().await;
        assert_eq!(receiver.completed().await, 3);
    })
    .await;
}

/// Files received by the receiver are byte-exact copies: the stored file on
/// disk hashes to the local file's sha256 (embedded receiver).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn received_files_are_byte_exact_on_disk() {
    bounded(async {
        let receiver = TestReceiver::start(Kind::Embedded, Setup::default()).await;
        let data = tempfile::tempdir().unwrap();
        let mut harness = Harness::start(data.path(), test_config(2)).await;
        let mut expected: HashMap<String, (PathBuf, String)> = HashMap::new();
        for (index, size) in [0u64, 1, 65_535, 65_536, 65_537, 3 * MIB + 17]
            .iter()
            .enumerate()
        {
            let file = data.path().join(format!("f{index}.bin"));
            let sha = write_file(&file, *size, 20 + index as u64);
            let id = new_id();
            harness
                .engine
                .start_upload(payload(&id, &file, &receiver.url()))
                .await
                .unwrap();
            expected.insert(id, (file, sha));
        }
        let ids: Vec<String> = expected.keys().cloned().collect();
        let results = harness.terminals(&ids).await;
        for id in &ids {
            let (status, echo) = uploaded(&results[id]);
            assert_eq!(status, 201);
            assert_eq!(echo["receivedInfo"]["sha256"], expected[id].1.as_str());
        }
        let received = receiver.embedded.as_ref().unwrap().received();
        assert_eq!(received.len(), ids.len());
        for file in &received {
            let on_disk = sha256_of(&file.path_on_disk);
            assert_eq!(on_disk, file.sha256);
            assert!(expected.values().any(|(_, sha)| *sha == on_disk));
        }
        harness.stop().await;
    })
    .await;
}
