//! The driver with an in-memory store and stand-in transports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a test or bench: failing loudly is the point

use bgupload_fsm::{
    Attempt, Config, Event, FileCheck, Options, Outcome, TransferReport, UploadPayload,
    UploadRequest,
};
use bgupload_io::driver::{Engine, EngineOptions, StoreCalls};
use bgupload_io::transport::{ProgressSink, Transport};
use bgupload_persistence::SimStore;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// A transport whose attempts panic (a bug in a transport).
struct PanickingTransport;

impl Transport for PanickingTransport {
    fn check_file(&self, _path: &str) -> FileCheck {
        FileCheck::RegularFile { size: 10 }
    }

    // The trait's future is 'static: an `async fn` would borrow `self`.
    #[allow(clippy::manual_async_fn)]
    fn run(
        &self,
        _request: UploadRequest,
        _attempt: Attempt,
        _progress: ProgressSink,
    ) -> impl Future<Output = TransferReport> + Send + 'static {
        async { panic!("transport bug") }
    }
}

/// A transport that answers 201 at once.
struct AnsweringTransport;

impl Transport for AnsweringTransport {
    fn check_file(&self, _path: &str) -> FileCheck {
        FileCheck::RegularFile { size: 10 }
    }

    // The trait's future is 'static: an `async fn` would borrow `self`.
    #[allow(clippy::manual_async_fn)]
    fn run(
        &self,
        _request: UploadRequest,
        _attempt: Attempt,
        _progress: ProgressSink,
    ) -> impl Future<Output = TransferReport> + Send + 'static {
        async {
            TransferReport::Response {
                status: 201,
                body: b"ok".to_vec(),
                truncated: false,
            }
        }
    }
}

fn payload(n: u32) -> UploadPayload {
    UploadPayload {
        id: Some(format!("c3a4b4c7-4f1e-4c69-a951-{n:012x}")),
        file_path: Some("/data/file.bin".to_owned()),
        server_url: Some("http://127.0.0.1:9/upload".to_owned()),
        ..UploadPayload::default()
    }
}

fn options() -> EngineOptions {
    EngineOptions {
        machine: Options::new(3),
        store_calls: StoreCalls::Inline,
    }
}

type Events = Arc<Mutex<Vec<Event>>>;

fn sink(events: &Events) -> Box<dyn FnMut(Event) + Send> {
    let events = events.clone();
    Box::new(move |event| events.lock().expect("events").push(event))
}

async fn wait_for_terminal(events: &Events, count: usize) -> Vec<Event> {
    tokio::time::timeout(WAIT, async {
        loop {
            let terminal: Vec<Event> = events
                .lock()
                .expect("events")
                .iter()
                .filter(|event| matches!(event, Event::Terminal(_)))
                .cloned()
                .collect();
            if terminal.len() >= count {
                return terminal;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("terminal events in time")
}

#[tokio::test]
async fn a_panicking_transport_ends_the_upload_as_failed() {
    let store = Arc::new(SimStore::new());
    let (engine, _task) = Engine::start(store, Arc::new(PanickingTransport), options())
        .await
        .expect("engine");
    let events: Events = Arc::default();
    engine
        .init(Config::default(), sink(&events))
        .await
        .expect("init");
    engine.start_upload(payload(1)).await.expect("accepted");
    let terminal = wait_for_terminal(&events, 1).await;
    let Event::Terminal(event) = &terminal[0] else {
        unreachable!()
    };
    match &event.outcome {
        Outcome::Failed { error, error_code } => {
            assert!(error.contains("transport bug"), "{error}");
            assert_eq!(
                *error_code,
                bgupload_fsm::ErrorCode::TransportFailedInside.code()
            );
        }
        other => panic!("expected FAILED, got {other:?}"),
    }
}

#[tokio::test]
async fn concurrent_start_uploads_share_fsyncs() {
    let store = Arc::new(SimStore::new());
    let (engine, _task) = Engine::start(store.clone(), Arc::new(AnsweringTransport), options())
        .await
        .expect("engine");
    let events: Events = Arc::default();
    let config = Config {
        parallel_uploads_limit: 8,
        ..Config::default()
    };
    engine.init(config, sink(&events)).await.expect("init");
    let before = store.stats();
    let calls: Vec<_> = (0..64)
        .map(|n| {
            let engine = engine.clone();
            tokio::spawn(async move { engine.start_upload(payload(n)).await })
        })
        .collect();
    for call in calls {
        call.await.expect("task").expect("accepted");
    }
    wait_for_terminal(&events, 64).await;
    let after = store.stats();
    let syncs = after.syncs - before.syncs;
    // 64 accepts, 64 attempt starts and 64 ends: 192 batches at least.
    assert!(after.batches - before.batches >= 192);
    assert!(
        syncs < 192,
        "group commit: {syncs} syncs for {} batches",
        after.batches - before.batches
    );
}
