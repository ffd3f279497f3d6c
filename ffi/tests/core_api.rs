//! The host-independent API (`bgupload_ffi::core`) with engine-owned HTTP
//! transfers against the embedded receiver on 127.0.0.1: refusals reach
//! the callback exactly once, and a callback may call back into the engine
//! — acknowledge, even close it — without a deadlock.
//!
//! One test function: the engine is one per process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a test or bench: failing loudly is the point

use bgupload::receiver::{Receiver, ReceiverConfig};
use bgupload_ffi::FfiError;
use bgupload_ffi::core;
use bgupload_ffi::delivery::EventCallback;
use bgupload_fsm::TransferReport;
use bgupload_fsm::validate::MSG_PAYLOAD_MISSING;
use serde_json::Value;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Longest wait for one event.
const WAIT: Duration = Duration::from_secs(30);
/// How long "nothing more comes" is watched for.
const QUIET: Duration = Duration::from_millis(400);

const FIRST: &str = "0e6a1c2b-3d4e-4f50-8a61-7b8c9d0e1f21";
const SECOND: &str = "0e6a1c2b-3d4e-4f50-8a61-7b8c9d0e1f22";

fn collector() -> (EventCallback, mpsc::Receiver<Value>) {
    let (sender, receiver) = mpsc::channel();
    let sender = Mutex::new(sender);
    let callback: EventCallback = Box::new(move |json: &str| {
        let event: Value = serde_json::from_str(json).expect("events are JSON");
        let _ = sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(event);
    });
    (callback, receiver)
}

fn final_event(events: &mpsc::Receiver<Value>) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let event = events
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("an event in time");
        if event["state"] != "UPLOADING" {
            return event;
        }
    }
}

fn final_events_within_quiet(events: &mpsc::Receiver<Value>) -> Vec<Value> {
    let deadline = Instant::now() + QUIET;
    let mut seen = Vec::new();
    while let Ok(event) = events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if event["state"] != "UPLOADING" {
            seen.push(event);
        }
    }
    seen
}

#[test]
fn core_api_end_to_end() {
    let work = tempfile::tempdir().unwrap();
    let data_dir = work.path().join("engine");
    let data = data_dir.to_str().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime
        .block_on(Receiver::start(ReceiverConfig::loopback(
            work.path().join("received"),
        )))
        .unwrap();
    let url = receiver.url();
    let file = work.path().join("a.txt");
    std::fs::write(&file, b"hello").unwrap();
    let payload = |id: &str| {
        serde_json::json!({"id": id, "filePath": file.to_str().unwrap(), "serverUrl": url})
            .to_string()
    };

    // Not open: every call says so.
    assert_eq!(core::start_upload(Some("{}")), Err(FfiError::NotOpen));
    assert_eq!(core::destroy(), Err(FfiError::NotOpen));
    assert_eq!(
        core::report_transfer(FIRST, 1, TransferReport::Progress { sent: 1, total: 2 }),
        Err(FfiError::NotOpen)
    );
    assert_eq!(core::close(), Ok(()));

    core::open(Some(data), None).unwrap();
    assert_eq!(
        core::report_transfer(FIRST, 1, TransferReport::Progress { sent: 1, total: 2 }),
        Err(FfiError::NotOsOwned)
    );
    assert_eq!(
        core::remove_upload(Some(FIRST)),
        Err(FfiError::NotInitialised)
    );
    let (callback, events) = collector();
    core::init(Some("{}"), callback).unwrap();
    // A refused init keeps the callback there was (the machine never
    // attaches the new one) and releases the refused one.
    let (refused_callback, refused_events) = collector();
    let refused = core::init(Some(r#"{"parallelUploadsLimit":1000}"#), refused_callback);
    let refused = refused.unwrap_err().to_string();
    assert!(refused.contains("parallelUploadsLimit"), "{refused}");
    assert_eq!(
        refused_events.try_recv(),
        Err(mpsc::TryRecvError::Disconnected),
        "the refused init's callback is released, and was never called"
    );

    // Refusals found decoding the JSON and refusals of the state machine:
    // each returned, and delivered exactly once.
    assert_eq!(
        core::start_upload(Some("null")),
        Err(FfiError::Rejected(MSG_PAYLOAD_MISSING.to_owned()))
    );
    let missing = work.path().join("missing.txt");
    let missing_payload =
        serde_json::json!({"id": FIRST, "filePath": missing.to_str().unwrap(), "serverUrl": url})
            .to_string();
    let not_found = format!("File not found: {}", missing.display());
    assert_eq!(
        core::start_upload(Some(&missing_payload)),
        Err(FfiError::Rejected(not_found.clone()))
    );
    let refused = final_events_within_quiet(&events);
    assert_eq!(
        refused,
        vec![
            serde_json::json!({"state": "FAILED", "error": MSG_PAYLOAD_MISSING}),
            serde_json::json!({"id": FIRST, "state": "FAILED", "error": not_found, "errorCode": -1100}),
        ]
    );

    // An upload, then a callback that acknowledges and closes the engine
    // from inside itself.
    core::start_upload(Some(&payload(FIRST))).unwrap();
    let uploaded = final_event(&events);
    assert_eq!(uploaded["state"], "UPLOADED");
    core::start_upload(Some(&payload(SECOND))).unwrap();
    let second = final_event(&events);
    assert_eq!(second["state"], "UPLOADED");

    let (closed_sender, closed) = mpsc::channel();
    let closed_sender = Mutex::new(closed_sender);
    let inner_events = Arc::new(Mutex::new(Vec::new()));
    let seen = inner_events.clone();
    core::init(
        None,
        Box::new(move |json: &str| {
            let event: Value = serde_json::from_str(json).expect("events are JSON");
            seen.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(event.clone());
            if event["id"] == FIRST {
                let acknowledged = core::acknowledge_event(Some(&event["eventId"].to_string()));
                let closed = core::close();
                let _ = closed_sender
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .send((acknowledged, closed));
            }
        }),
    )
    .unwrap();
    let (acknowledged, closed_inside) = closed.recv_timeout(WAIT).expect("the callback returns");
    assert_eq!(acknowledged, Ok(()));
    assert_eq!(closed_inside, Ok(()));
    assert_eq!(core::start_upload(Some("{}")), Err(FfiError::NotOpen));
    assert!(
        inner_events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .all(|event| event["id"] != SECOND),
        "nothing is delivered after close"
    );

    // Reopened: the acknowledged event is gone, the other comes again.
    core::open(Some(data), Some("{}")).unwrap();
    let (callback, events) = collector();
    core::init(Some(r#"{"parallelUploadsLimit":null}"#), callback).unwrap();
    assert_eq!(final_events_within_quiet(&events), vec![second]);
    core::destroy().unwrap();
    core::close().unwrap();
    runtime.block_on(receiver.shutdown());
}
