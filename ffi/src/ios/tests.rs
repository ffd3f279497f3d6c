//! The iOS bridge driven through its C ABI, as Swift calls it, with Rust
//! stand-ins for the two Swift classes (their `@_cdecl` symbols are defined
//! here, as the generated Swift file defines them in an app). The stand-in
//! transfer host uploads the prepared body file to the embedded receiver
//! on 127.0.0.1, as a background `URLSession` would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a test: failing loudly is the point

use bgupload::receiver::{Receiver, ReceiverConfig};
use serde_json::Value;
use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver as Channel, Sender};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};
use swift_bridge::string::RustString;

/// Longest wait for one event or host call.
const WAIT: Duration = Duration::from_secs(30);
/// How long "nothing more comes" is watched for.
const QUIET: Duration = Duration::from_millis(300);

// ------------------------------------------------ the bridge's C functions

// The `RustString` pointers are opaque to the other side, as in the code
// swift-bridge generates (which allows the same lint).
#[allow(improper_ctypes)]
unsafe extern "C" {
    #[link_name = "__swift_bridge__$bgupload_open"]
    fn sb_open(data_dir: *mut RustString, options_json: *mut RustString) -> *mut RustString;
    #[link_name = "__swift_bridge__$bgupload_open_os_owned"]
    fn sb_open_os_owned(
        data_dir: *mut RustString,
        options_json: *mut RustString,
        host: *mut c_void,
    ) -> *mut RustString;
    #[link_name = "__swift_bridge__$bgupload_init"]
    fn sb_init(config_json: *mut RustString, listener: *mut c_void) -> *mut RustString;
    #[link_name = "__swift_bridge__$bgupload_start_upload"]
    fn sb_start_upload(payload_json: *mut RustString) -> *mut RustString;
    #[link_name = "__swift_bridge__$bgupload_remove_upload"]
    fn sb_remove_upload(upload_id: *mut RustString) -> *mut RustString;
    #[link_name = "__swift_bridge__$bgupload_acknowledge_event"]
    fn sb_acknowledge_event(event_id: *mut RustString) -> *mut RustString;
    #[link_name = "__swift_bridge__$bgupload_destroy"]
    fn sb_destroy() -> *mut RustString;
    #[link_name = "__swift_bridge__$bgupload_set_network_reachable"]
    fn sb_set_network_reachable(reachable: bool) -> *mut RustString;
    #[link_name = "__swift_bridge__$bgupload_report_progress"]
    fn sb_report_progress(
        upload_id: *mut RustString,
        attempt: u32,
        sent: u64,
        total: u64,
    ) -> *mut RustString;
    #[link_name = "__swift_bridge__$bgupload_report_response"]
    fn sb_report_response_with_headers(
        upload_id: *mut RustString,
        attempt: u32,
        status: u16,
        body: *mut RustString,
        retry_after: *mut RustString,
        date: *mut RustString,
    ) -> *mut RustString;
    #[link_name = "__swift_bridge__$bgupload_report_failure"]
    fn sb_report_failure(
        upload_id: *mut RustString,
        attempt: u32,
        message: *mut RustString,
        error_code: i32,
        retryable: bool,
    ) -> *mut RustString;
    #[link_name = "__swift_bridge__$bgupload_close"]
    fn sb_close() -> *mut RustString;
}

/// A response report without `Retry-After` or `Date`, as Swift sends one
/// for an answer that had neither.
///
/// Safety: as the bridge function's.
unsafe fn sb_report_response(
    upload_id: *mut RustString,
    attempt: u32,
    status: u16,
    body: *mut RustString,
) -> *mut RustString {
    unsafe {
        sb_report_response_with_headers(
            upload_id,
            attempt,
            status,
            body,
            rust_string(""),
            rust_string(""),
        )
    }
}

/// A Swift `String` handed to Rust.
fn rust_string(text: &str) -> *mut RustString {
    Box::into_raw(Box::new(RustString(text.to_owned())))
}

/// A Swift `Optional<RustString>` answer: `None` for success.
fn answer(pointer: *mut RustString) -> Option<String> {
    if pointer.is_null() {
        None
    } else {
        // Safety: the bridge returns a boxed RustString it gave up.
        Some(unsafe { Box::from_raw(pointer) }.0)
    }
}

// --------------------------------------------- stand-ins for Swift classes

struct Listener {
    events: Mutex<Sender<String>>,
}

struct Host {
    calls: Mutex<Sender<HostCall>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostCall {
    Start {
        upload_id: String,
        attempt: u32,
        url: String,
        method: String,
        headers_json: String,
        body_file_path: String,
        allows_metered: bool,
    },
    Cancel {
        upload_id: String,
        attempt: u32,
    },
}

static LISTENERS_FREED: AtomicUsize = AtomicUsize::new(0);
static HOSTS_FREED: AtomicUsize = AtomicUsize::new(0);

/// Takes a string Rust handed to "Swift".
///
/// Safety: `pointer` is a boxed RustString the caller gave up.
unsafe fn take(pointer: *mut RustString) -> String {
    unsafe { Box::from_raw(pointer) }.0
}

#[unsafe(export_name = "__swift_bridge__$BgUploadEventListener$on_event")]
extern "C" fn listener_on_event(this: *mut c_void, json: *mut RustString) {
    // Safety: `this` is the leaked `Listener` given to `sb_init`.
    let listener = unsafe { &*(this as *const Listener) };
    let json = unsafe { take(json) };
    let _ = listener
        .events
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .send(json);
}

#[unsafe(export_name = "__swift_bridge__$BgUploadEventListener$_free")]
extern "C" fn listener_free(this: *mut c_void) {
    // Safety: the bridge frees each listener once.
    drop(unsafe { Box::from_raw(this as *mut Listener) });
    LISTENERS_FREED.fetch_add(1, Ordering::SeqCst);
}

#[unsafe(export_name = "__swift_bridge__$BgUploadTransferHost$start_transfer")]
extern "C" fn host_start_transfer(
    this: *mut c_void,
    upload_id: *mut RustString,
    attempt: u32,
    url: *mut RustString,
    method: *mut RustString,
    headers_json: *mut RustString,
    body_file_path: *mut RustString,
    allows_metered: bool,
) {
    // Safety: `this` is the leaked `Host`; the strings are handed over.
    let host = unsafe { &*(this as *const Host) };
    let call = unsafe {
        HostCall::Start {
            upload_id: take(upload_id),
            attempt,
            url: take(url),
            method: take(method),
            headers_json: take(headers_json),
            body_file_path: take(body_file_path),
            allows_metered,
        }
    };
    let _ = host
        .calls
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .send(call);
}

#[unsafe(export_name = "__swift_bridge__$BgUploadTransferHost$cancel_transfer")]
extern "C" fn host_cancel_transfer(this: *mut c_void, upload_id: *mut RustString, attempt: u32) {
    // Safety: as above.
    let host = unsafe { &*(this as *const Host) };
    let call = HostCall::Cancel {
        upload_id: unsafe { take(upload_id) },
        attempt,
    };
    let _ = host
        .calls
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .send(call);
}

#[unsafe(export_name = "__swift_bridge__$BgUploadTransferHost$_free")]
extern "C" fn host_free(this: *mut c_void) {
    // Safety: the bridge frees each host once.
    drop(unsafe { Box::from_raw(this as *mut Host) });
    HOSTS_FREED.fetch_add(1, Ordering::SeqCst);
}

fn new_listener() -> (*mut c_void, Channel<String>) {
    let (sender, receiver) = mpsc::channel();
    let listener = Box::new(Listener {
        events: Mutex::new(sender),
    });
    (Box::into_raw(listener).cast(), receiver)
}

fn new_host() -> (*mut c_void, Channel<HostCall>) {
    let (sender, receiver) = mpsc::channel();
    let host = Box::new(Host {
        calls: Mutex::new(sender),
    });
    (Box::into_raw(host).cast(), receiver)
}

// ------------------------------------------------------------- helpers

/// The next event that is not UPLOADING.
fn next_final_event(events: &Channel<String>) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let json = events
            .recv_timeout(left)
            .expect("an event within the time limit");
        let event: Value = serde_json::from_str(&json).expect("events are JSON");
        if event["state"] != "UPLOADING" {
            return event;
        }
        assert!(
            event["progress"].as_u64().is_some_and(|p| p <= 100),
            "{event}"
        );
    }
}

fn no_final_event(events: &Channel<String>) {
    let deadline = Instant::now() + QUIET;
    while let Ok(json) = events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        let event: Value = serde_json::from_str(&json).expect("events are JSON");
        assert_eq!(event["state"], "UPLOADING", "unexpected event {event}");
    }
}

fn next_call(calls: &Channel<HostCall>) -> HostCall {
    let call = calls
        .recv_timeout(WAIT)
        .expect("a host call within the time limit");
    eprintln!("host call: {call:?}");
    call
}

fn payload(id: &str, file: &Path, url: &str) -> String {
    // Written by hand: `json!` would sort the parameters.
    format!(
        r#"{{"id":{id},"filePath":{path},"serverUrl":{url},"fileKey":"upload",
            "parameters":{{"b":"2","a":1}},"headers":{{"X-Test":"yes"}}}}"#,
        id = Value::from(id),
        path = Value::from(format!(
            "file://{}",
            file.display().to_string().replace(' ', "%20")
        )),
        url = Value::from(url),
    )
}

/// What the stand-in host does with a started transfer: upload the body
/// file as the whole request body, as URLSession's `uploadTask(with:fromFile:)`.
fn upload_like_urlsession(
    runtime: &tokio::runtime::Runtime,
    url: &str,
    method: &str,
    headers_json: &str,
    body: &Path,
) -> (u16, String) {
    let headers: serde_json::Map<String, Value> =
        serde_json::from_str(headers_json).expect("headers_json is a JSON object");
    let bytes = std::fs::read(body).expect("the body file exists while the transfer runs");
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a valid method");
        let mut request = client.request(method, url).body(bytes);
        for (name, value) in &headers {
            request = request.header(name.as_str(), value.as_str().expect("string values"));
        }
        let response = request.send().await.expect("the receiver answers");
        let status = response.status().as_u16();
        (status, response.text().await.expect("a text answer"))
    })
}

fn transfers_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(crate::host_transfer::TRANSFERS_DIR)
}

// --------------------------------------------------------------- tests

#[test]
fn generated_swift_and_header_name_every_bridge_function() {
    let dir = Path::new(env!("BGUPLOAD_SWIFT_BRIDGE_DIR"));
    let swift = std::fs::read_to_string(dir.join("bgupload-ffi/bgupload-ffi.swift"))
        .expect("build.rs generated the Swift file");
    let header = std::fs::read_to_string(dir.join("bgupload-ffi/bgupload-ffi.h"))
        .expect("build.rs generated the C header");
    assert!(dir.join("SwiftBridgeCore.swift").is_file());
    assert!(dir.join("SwiftBridgeCore.h").is_file());
    for name in [
        "bguploadOpen",
        "bguploadOpenOsOwned",
        "bguploadInit",
        "bguploadStartUpload",
        "bguploadRemoveUpload",
        "bguploadAcknowledgeEvent",
        "bguploadDestroy",
        "bguploadSetNetworkReachable",
        "bguploadReportProgress",
        "bguploadReportResponse",
        "bguploadReportFailure",
        "bguploadClose",
        "__swift_bridge__$BgUploadEventListener$on_event",
        "__swift_bridge__$BgUploadTransferHost$start_transfer",
        "__swift_bridge__$BgUploadTransferHost$cancel_transfer",
    ] {
        assert!(swift.contains(name), "{name} missing from the Swift file");
    }
    for symbol in [
        "__swift_bridge__$bgupload_open(",
        "__swift_bridge__$bgupload_open_os_owned(",
        "__swift_bridge__$bgupload_init(",
        "__swift_bridge__$bgupload_report_response(",
        "__swift_bridge__$bgupload_close(",
    ] {
        assert!(header.contains(symbol), "{symbol} missing from the header");
    }
}

#[test]
fn os_owned_transfers_through_the_bridge() {
    let work = tempfile::tempdir().unwrap();
    let data_dir = work.path().join("data");
    let data_dir_text = data_dir.to_str().unwrap().to_owned();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime
        .block_on(Receiver::start(ReceiverConfig::loopback(
            work.path().join("received"),
        )))
        .unwrap();
    let url = receiver.url();
    let file = work.path().join("photo one.jpg");
    std::fs::write(&file, b"not really a jpeg, but bytes all the same").unwrap();

    // Before open: every call is a clear error.
    let not_open = crate::FfiError::NotOpen.to_string();
    assert_eq!(
        answer(unsafe { sb_start_upload(rust_string("{}")) }),
        Some(not_open.clone())
    );
    assert_eq!(
        answer(unsafe { sb_report_response(rust_string("x"), 1, 200, rust_string("")) }),
        Some(not_open.clone())
    );
    assert_eq!(answer(unsafe { sb_destroy() }), Some(not_open.clone()));
    assert_eq!(
        answer(unsafe { sb_close() }),
        None,
        "closing a closed engine succeeds"
    );

    let (host, calls) = new_host();
    assert_eq!(
        answer(unsafe { sb_open_os_owned(rust_string(&data_dir_text), rust_string(""), host) }),
        None
    );
    assert_eq!(
        answer(unsafe { sb_start_upload(rust_string("{}")) }),
        Some(crate::FfiError::NotInitialised.to_string())
    );
    assert_eq!(answer(unsafe { sb_set_network_reachable(true) }), None);
    let (first_listener, first_events) = new_listener();
    assert_eq!(
        answer(unsafe { sb_init(rust_string("{}"), first_listener) }),
        None
    );
    let (listener, events) = new_listener();
    assert_eq!(
        answer(unsafe { sb_init(rust_string(r#"{"parallelUploadsLimit":3}"#), listener) }),
        None
    );
    assert_eq!(
        LISTENERS_FREED.load(Ordering::SeqCst),
        1,
        "re-init releases the old listener"
    );
    drop(first_events);

    // A refusal: returned, and one FAILED event without eventId.
    assert_eq!(
        answer(unsafe { sb_start_upload(rust_string("null")) }),
        Some(bgupload_fsm::validate::MSG_PAYLOAD_MISSING.to_owned())
    );
    let refused = next_final_event(&events);
    assert_eq!(
        refused,
        serde_json::json!({"state": "FAILED", "error": bgupload_fsm::validate::MSG_PAYLOAD_MISSING})
    );

    // 1. An upload the host carries out and reports on.
    // Any text is an id; a path-like one must not steer the body file.
    let first = "../../6f1c7a4e first";
    assert_eq!(
        answer(unsafe { sb_start_upload(rust_string(&payload(first, &file, &url))) }),
        None
    );
    let HostCall::Start {
        upload_id,
        attempt,
        url: transfer_url,
        method,
        headers_json,
        body_file_path,
        allows_metered,
    } = next_call(&calls)
    else {
        panic!("expected a start, got another call");
    };
    assert!(allows_metered, "network \"any\" may use a metered one");
    assert_eq!(upload_id, first);
    assert_eq!(transfer_url, url);
    assert_eq!(method, "POST");
    let headers: Value = serde_json::from_str(&headers_json).unwrap();
    assert_eq!(headers["X-Test"], "yes");
    assert!(
        headers["Content-Type"]
            .as_str()
            .is_some_and(|value| value.starts_with("multipart/form-data; boundary=")),
        "{headers_json}"
    );
    let body_path = PathBuf::from(&body_file_path);
    assert!(
        body_path.starts_with(transfers_dir(&data_dir)),
        "{body_file_path}"
    );
    let size = std::fs::metadata(&body_path).unwrap().len();
    assert_eq!(
        answer(unsafe { sb_report_progress(rust_string(first), attempt, size / 2, size) }),
        None
    );
    let (status, body) =
        upload_like_urlsession(&runtime, &transfer_url, &method, &headers_json, &body_path);
    assert_eq!(status, 201);
    assert_eq!(
        answer(unsafe {
            sb_report_response(rust_string(first), attempt, status, rust_string(&body))
        }),
        None
    );
    let uploaded = next_final_event(&events);
    assert_eq!(uploaded["state"], "UPLOADED", "{uploaded}");
    assert_eq!(uploaded["id"], first);
    assert_eq!(uploaded["statusCode"], 201);
    assert_eq!(uploaded["serverResponse"], body.as_str());
    let first_event_id = event_id_of(&uploaded);
    assert!(
        !body_path.exists(),
        "the body file is deleted once the attempt ended"
    );
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].original_filename, "photo one.jpg");
    assert_eq!(received[0].file_key.as_deref(), Some("upload"));
    assert_eq!(
        received[0].parameters,
        vec![
            ("b".to_owned(), "2".to_owned()),
            ("a".to_owned(), "1".to_owned())
        ]
    );
    assert_eq!(
        answer(unsafe { sb_acknowledge_event(rust_string(&first_event_id.to_string())) }),
        None
    );

    // 2. A transport failure the host reports: retried as a new attempt.
    let second = "7a2d8b5f-4a8b-4d66-8b1f-2c3d4e5f6071";
    assert_eq!(
        answer(unsafe { sb_start_upload(rust_string(&payload(second, &file, &url))) }),
        None
    );
    let HostCall::Start { attempt, .. } = next_call(&calls) else {
        panic!("expected a start, got another call");
    };
    assert_eq!(
        answer(unsafe {
            sb_report_failure(
                rust_string(second),
                attempt,
                rust_string("offline"),
                -1009,
                true,
            )
        }),
        None
    );
    // 3. Removing it while the retry runs: the host is told to cancel.
    let HostCall::Start { attempt: retry, .. } = next_call(&calls) else {
        panic!("expected the retry");
    };
    assert!(retry > attempt);
    assert_eq!(
        answer(unsafe { sb_remove_upload(rust_string(second)) }),
        None
    );
    assert_eq!(
        next_call(&calls),
        HostCall::Cancel {
            upload_id: second.to_owned(),
            attempt: retry
        }
    );
    let cancelled = next_final_event(&events);
    assert_eq!(cancelled["id"], second);
    assert_eq!(cancelled["state"], "FAILED");
    assert_eq!(cancelled["errorCode"], -999);
    let cancelled_event_id = event_id_of(&cancelled);
    assert_eq!(
        answer(unsafe { sb_acknowledge_event(rust_string(&cancelled_event_id.to_string())) }),
        None
    );

    // 4. Closed while the OS transfer runs: it is left to the OS, and its
    // outcome, reported after the next open, ends the upload.
    let third = "8b3e9c60-5b9c-4e77-9c20-3d4e5f607182";
    assert_eq!(
        answer(unsafe { sb_start_upload(rust_string(&payload(third, &file, &url))) }),
        None
    );
    let HostCall::Start {
        attempt,
        url: transfer_url,
        method,
        headers_json,
        body_file_path,
        ..
    } = next_call(&calls)
    else {
        panic!("expected a start, got another call");
    };
    assert_eq!(answer(unsafe { sb_close() }), None);
    assert_eq!(
        HOSTS_FREED.load(Ordering::SeqCst),
        1,
        "close releases the host"
    );
    assert_eq!(
        LISTENERS_FREED.load(Ordering::SeqCst),
        2,
        "close releases the listener"
    );
    assert!(
        calls.try_recv().is_err(),
        "close does not cancel OS-owned transfers"
    );
    let body_path = PathBuf::from(&body_file_path);
    assert!(body_path.exists(), "the OS still reads the body file");
    let (status, body) =
        upload_like_urlsession(&runtime, &transfer_url, &method, &headers_json, &body_path);

    let (host, calls) = new_host();
    assert_eq!(
        answer(unsafe { sb_open_os_owned(rust_string(&data_dir_text), rust_string("{}"), host) }),
        None
    );
    assert_eq!(
        answer(unsafe {
            sb_report_response(rust_string(third), attempt, status, rust_string(&body))
        }),
        None
    );
    let (listener, events) = new_listener();
    assert_eq!(answer(unsafe { sb_init(rust_string(""), listener) }), None);
    let reconciled = next_final_event(&events);
    assert_eq!(reconciled["id"], third, "{reconciled}");
    assert_eq!(reconciled["state"], "UPLOADED");
    assert_eq!(reconciled["statusCode"], 201);
    assert!(
        !body_path.exists(),
        "the body file is deleted after the late report"
    );
    no_final_event(&events);
    assert!(
        calls.try_recv().is_err(),
        "the reconciled upload is not started again"
    );

    // 5. A hostile host: reports that make no sense change nothing, and
    // what it says is kept within the engine's limits.
    let limits = bgupload_fsm::Limits::default();
    let fourth = "9c4fad71-6cad-4f88-8d31-4e5f60718293";
    assert_eq!(
        answer(unsafe { sb_start_upload(rust_string(&payload(fourth, &file, &url))) }),
        None
    );
    let HostCall::Start { attempt, .. } = next_call(&calls) else {
        panic!("expected a start, got another call");
    };
    for (sent, total) in [(u64::MAX, 1), (5, 0), (0, u64::MAX), (u64::MAX, u64::MAX)] {
        assert_eq!(
            answer(unsafe { sb_report_progress(rust_string(fourth), attempt, sent, total) }),
            None,
            "progress {sent}/{total}"
        );
    }
    let stranger = "00000000-0000-4000-8000-00000000dead";
    for (id, which) in [(fourth, attempt + 7), (fourth, 0), (stranger, 1)] {
        assert_eq!(
            answer(unsafe { sb_report_response(rust_string(id), which, 200, rust_string("no")) }),
            None,
            "a report for an attempt never started is ignored"
        );
        assert_eq!(
            answer(unsafe {
                sb_report_failure(rust_string(id), which, rust_string("no"), -1, false)
            }),
            None
        );
    }
    no_final_event(&events);
    let huge_body = "é".repeat(limits.max_response_bytes);
    assert_eq!(
        answer(unsafe {
            sb_report_response(rust_string(fourth), attempt, 200, rust_string(&huge_body))
        }),
        None
    );
    let uploaded = next_final_event(&events);
    assert_eq!(uploaded["id"], fourth, "{uploaded}");
    let kept = uploaded["serverResponse"].as_str().unwrap();
    assert!(kept.len() <= limits.max_response_bytes, "{}", kept.len());
    assert!(huge_body.starts_with(kept) && !kept.is_empty());
    // The same attempt reported again, differently: one event only.
    assert_eq!(
        answer(unsafe {
            sb_report_failure(rust_string(fourth), attempt, rust_string("late"), -1, true)
        }),
        None
    );
    no_final_event(&events);
    let fifth = "ad50be82-7dbe-4f99-9e42-5f6071829304";
    assert_eq!(
        answer(unsafe { sb_start_upload(rust_string(&payload(fifth, &file, &url))) }),
        None
    );
    let HostCall::Start { attempt, .. } = next_call(&calls) else {
        panic!("expected a start, got another call");
    };
    let huge_message = "x\u{0}\n".repeat(100_000);
    assert_eq!(
        answer(unsafe {
            sb_report_failure(
                rust_string(fifth),
                attempt,
                rust_string(&huge_message),
                i32::MIN,
                false,
            )
        }),
        None
    );
    let failed = next_final_event(&events);
    assert_eq!(failed["id"], fifth, "{failed}");
    assert_eq!(failed["errorCode"], i32::MIN);
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.len() <= limits.max_error_message_bytes,
        "{}",
        error.len()
    );
    for event in [&uploaded, &failed] {
        let event_id = event_id_of(event);
        assert_eq!(
            answer(unsafe { sb_acknowledge_event(rust_string(&event_id.to_string())) }),
            None
        );
    }

    // Bad reports are errors, not crashes.
    assert!(
        answer(unsafe { sb_report_response(rust_string("bad\nid"), 1, 200, rust_string("")) })
            .is_some_and(|error| error.starts_with("uploadId"))
    );
    assert_eq!(answer(unsafe { sb_destroy() }), None);
    assert_eq!(
        LISTENERS_FREED.load(Ordering::SeqCst),
        3,
        "destroy releases the listener"
    );
    assert_eq!(answer(unsafe { sb_close() }), None);

    // Engine-owned open on the same process works after close.
    assert_eq!(
        answer(unsafe { sb_open(rust_string(&data_dir_text), rust_string("{}")) }),
        None
    );
    assert_eq!(answer(unsafe { sb_close() }), None);
    runtime.block_on(receiver.shutdown());
}

/// The `eventId` of an event, which events carry as a string of digits.
fn event_id_of(event: &serde_json::Value) -> u64 {
    let text = event["eventId"].as_str().expect("eventId is a string");
    text.parse().expect("an eventId of digits")
}
