//! The driver with an in-memory store and stand-in transports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a test or bench: failing loudly is the point

use bgupload_fsm::ErrorCode;
use bgupload_fsm::{
    Attempt, Config, Event, FileCheck, Options, Outcome, TransferReport, UploadPayload,
    UploadRequest,
};
use bgupload_io::CommandError;
use bgupload_io::driver::{Engine, EngineOptions, StoreCalls};
use bgupload_io::transport::{ProgressSink, Transport};
use bgupload_persistence::SimStore;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// A stand-in transport: its attempts panic (a bug in a transport), or
/// answer 201 once its gate is open.
struct TestTransport {
    panics: bool,
    open: tokio::sync::watch::Receiver<bool>,
    /// Keeps an always-open gate's sender alive.
    _held_open: Option<tokio::sync::watch::Sender<bool>>,
}

impl TestTransport {
    fn panicking() -> Arc<TestTransport> {
        TestTransport::open(true)
    }

    fn answering() -> Arc<TestTransport> {
        TestTransport::open(false)
    }

    fn open(panics: bool) -> Arc<TestTransport> {
        let (gate, open) = tokio::sync::watch::channel(true);
        Arc::new(TestTransport {
            panics,
            open,
            _held_open: Some(gate),
        })
    }

    /// Answers once `gate` sends `true`.
    fn gated() -> (tokio::sync::watch::Sender<bool>, Arc<TestTransport>) {
        let (gate, open) = tokio::sync::watch::channel(false);
        let transport = TestTransport {
            panics: false,
            open,
            _held_open: None,
        };
        (gate, Arc::new(transport))
    }
}

impl Transport for TestTransport {
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
        let (panics, mut open) = (self.panics, self.open.clone());
        async move {
            assert!(!panics, "transport bug");
            let _ = open.wait_for(|open| *open).await;
            TransferReport::Response {
                status: 201,
                body: b"ok".to_vec(),
                truncated: false,
                retry_after_millis: None,
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
    let (engine, _task, events) = started(store, TestTransport::panicking()).await;
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
    let (engine, _task) = Engine::start(store.clone(), TestTransport::answering(), options())
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

/// An engine on `store` and `transport`, initialised with the default
/// configuration and a callback that keeps every event.
async fn started(
    store: Arc<SimStore>,
    transport: Arc<TestTransport>,
) -> (Engine, bgupload_io::driver::DriverTask, Events) {
    let (engine, task) = Engine::start(store, transport, options())
        .await
        .expect("engine");
    let events: Events = Arc::default();
    engine
        .init(Config::default(), sink(&events))
        .await
        .expect("init");
    (engine, task, events)
}

async fn wait_for_terminal_of(events: &Events, id: &str) -> bgupload_fsm::TerminalEvent {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some(terminal) = terminal_of(events, id) {
                return terminal;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("upload {id} ends in time"))
}

fn terminal_of(events: &Events, id: &str) -> Option<bgupload_fsm::TerminalEvent> {
    events.lock().unwrap().iter().find_map(|event| match event {
        Event::Terminal(terminal) if terminal.upload_id.as_str() == id => Some(terminal.clone()),
        _ => None,
    })
}

#[tokio::test]
async fn a_failed_sync_errs_its_command_and_the_engine_goes_on() {
    let store = Arc::new(SimStore::new());
    let (engine, task, events) = started(store.clone(), TestTransport::answering()).await;
    store.fail_next_syncs(1);
    let failed = engine.start_upload(payload(1)).await;
    assert!(
        matches!(failed, Err(CommandError::StoreFailed(_))),
        "{failed:?}"
    );
    // The driver reopened the store and kept the app's callback.
    engine.start_upload(payload(2)).await.expect("accepted");
    // It ends, delivered to the same callback.
    wait_for_terminal_of(&events, &payload(2).id.unwrap()).await;
    assert!(!task.is_finished());
    assert_eq!(store.counters().reopens, 1);
}

#[tokio::test]
async fn a_full_disk_refuses_new_uploads_finishes_accepted_ones_and_accepts_again() {
    let store = Arc::new(SimStore::new());
    let (gate, transport) = TestTransport::gated();
    let (engine, task, events) = started(store.clone(), transport).await;
    engine.start_upload(payload(0)).await.expect("accepted");

    // The disk fills up: the write that finds it full fails its command...
    store.set_full(true);
    let failed = engine.start_upload(payload(1)).await;
    assert!(
        matches!(&failed, Err(CommandError::StoreFailed(cause)) if cause.contains("storage")),
        "{failed:?}"
    );
    // ... and later uploads are refused with their own code.
    let refused = engine.start_upload(payload(2)).await;
    let Err(CommandError::Rejected(rejection)) = refused else {
        panic!("expected a refusal, got {refused:?}");
    };
    assert_eq!(rejection.error, "No space left on device");
    assert_eq!(rejection.error_code, Some(ErrorCode::StorageFull.code()));
    assert!(
        events
            .lock()
            .unwrap()
            .iter()
            .any(|event| matches!(event, Event::Rejected(refusal) if refusal.id == payload(2).id))
    );

    // What was accepted finishes in the reserve's room and is acknowledged.
    gate.send(true).unwrap();
    wait_for_terminal(&events, 1).await;
    let first = terminal_of(&events, payload(0).id.as_deref().unwrap()).expect("upload 0 ended");
    assert!(matches!(first.outcome, Outcome::Uploaded { .. }));
    engine.acknowledge_event(first.event_id).await.expect("ack");

    // Space returns: new uploads are accepted again (the driver tries the
    // reserve again at most once a second; the loop is bounded).
    store.set_full(false);
    let mut accepted = false;
    for _ in 0..50 {
        if engine.start_upload(payload(3)).await.is_ok() {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(accepted, "accepted again once the disk had room");
    wait_for_terminal_of(&events, &payload(3).id.unwrap()).await;
    assert!(!task.is_finished());
}
