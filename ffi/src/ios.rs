//! iOS: the `swift-bridge` bridge over [`crate::core`].
//!
//! Swift calls the `bgupload*` functions (each returns `nil` on success or
//! the error message) and supplies two classes the Rust side calls:
//!
//! ```swift
//! public final class BgUploadEventListener: @unchecked Sendable {
//!     func onEvent(json: RustString)            // one event, reference JSON
//! }
//! public final class BgUploadTransferHost: @unchecked Sendable {
//!     // Start a background URLSession upload task from the file; report
//!     // with bguploadReportProgress/Response/Failure(uploadId, attempt, …).
//!     func startTransfer(upload_id: RustString, attempt: UInt32, url: RustString,
//!                        method: RustString, headers_json: RustString,
//!                        body_file_path: RustString)
//!     func cancelTransfer(upload_id: RustString, attempt: UInt32)
//! }
//! ```
//!
//! `onEvent` runs on the engine's event thread; `startTransfer` and
//! `cancelTransfer` on its runtime threads: they must return quickly and
//! must not call back into the engine synchronously (dispatch the report
//! to another queue). Reports for transfers started before a relaunch are
//! given after `bguploadOpenOsOwned`, as they come from the session's
//! delegate.
//!
//! `build.rs` generates the Swift and C header files of this bridge (see
//! `ffi/scripts/build-ios.sh`).

// The bridge's generated glue of `startTransfer` takes each field of a
// transfer as one argument, as the Swift side declares it.
#![allow(clippy::too_many_arguments)]
// The one module that needs `unsafe` on iOS: swift-bridge expands the
// bridge into `extern "C"` glue, and the tests call that C ABI as Swift
// does.
#![allow(unsafe_code)]

use crate::core;
use crate::error::FfiError;
use crate::host_transfer::{HostTransfer, TransferHost};
use bgupload_fsm::TransferReport;
use std::sync::Arc;

#[swift_bridge::bridge]
mod ffi {
    extern "Rust" {
        #[swift_bridge(swift_name = "bguploadOpen")]
        fn bgupload_open(data_dir: String, options_json: String) -> Option<String>;
        #[swift_bridge(swift_name = "bguploadOpenOsOwned")]
        fn bgupload_open_os_owned(
            data_dir: String,
            options_json: String,
            host: BgUploadTransferHost,
        ) -> Option<String>;
        #[swift_bridge(swift_name = "bguploadInit")]
        fn bgupload_init(config_json: String, listener: BgUploadEventListener) -> Option<String>;
        #[swift_bridge(swift_name = "bguploadStartUpload")]
        fn bgupload_start_upload(payload_json: String) -> Option<String>;
        #[swift_bridge(swift_name = "bguploadRemoveUpload")]
        fn bgupload_remove_upload(upload_id: String) -> Option<String>;
        #[swift_bridge(swift_name = "bguploadAcknowledgeEvent")]
        fn bgupload_acknowledge_event(event_id: String) -> Option<String>;
        #[swift_bridge(swift_name = "bguploadDestroy")]
        fn bgupload_destroy() -> Option<String>;
        #[swift_bridge(swift_name = "bguploadSetNetworkReachable")]
        fn bgupload_set_network_reachable(reachable: bool) -> Option<String>;
        #[swift_bridge(swift_name = "bguploadSetNetwork")]
        fn bgupload_set_network(reachable: bool, metered: bool) -> Option<String>;
        #[swift_bridge(swift_name = "bguploadPauseUpload")]
        fn bgupload_pause_upload(upload_id: String) -> Option<String>;
        #[swift_bridge(swift_name = "bguploadResumeUpload")]
        fn bgupload_resume_upload(upload_id: String) -> Option<String>;
        #[swift_bridge(swift_name = "bguploadUpdateHeaders")]
        fn bgupload_update_headers(upload_id: String, headers_json: String) -> Option<String>;
        #[swift_bridge(swift_name = "bguploadGetUploads")]
        fn bgupload_get_uploads() -> String;
        #[swift_bridge(swift_name = "bguploadReportProgress")]
        fn bgupload_report_progress(
            upload_id: String,
            attempt: u32,
            sent: u64,
            total: u64,
        ) -> Option<String>;
        #[swift_bridge(swift_name = "bguploadReportResponse")]
        fn bgupload_report_response(
            upload_id: String,
            attempt: u32,
            status: u16,
            body: String,
            retry_after: String,
            date: String,
        ) -> Option<String>;
        #[swift_bridge(swift_name = "bguploadReportFailure")]
        fn bgupload_report_failure(
            upload_id: String,
            attempt: u32,
            message: String,
            error_code: i32,
            retryable: bool,
        ) -> Option<String>;
        #[swift_bridge(swift_name = "bguploadClose")]
        fn bgupload_close() -> Option<String>;
    }

    extern "Swift" {
        #[swift_bridge(Sendable)]
        type BgUploadEventListener;
        #[swift_bridge(swift_name = "onEvent")]
        fn on_event(self: &BgUploadEventListener, json: String);

        #[swift_bridge(Sendable)]
        type BgUploadTransferHost;
        #[swift_bridge(swift_name = "startTransfer")]
        fn start_transfer(
            self: &BgUploadTransferHost,
            upload_id: String,
            attempt: u32,
            url: String,
            method: String,
            headers_json: String,
            body_file_path: String,
            allows_metered: bool,
        );
        #[swift_bridge(swift_name = "cancelTransfer")]
        fn cancel_transfer(self: &BgUploadTransferHost, upload_id: String, attempt: u32);
    }
}

/// `nil` for success, the message otherwise.
fn answer(result: Result<(), FfiError>) -> Option<String> {
    result.err().map(|error| error.to_string())
}

/// The Swift transfer host behind the engine's [`TransferHost`].
struct SwiftHost(ffi::BgUploadTransferHost);

impl TransferHost for SwiftHost {
    fn start_transfer(&self, transfer: HostTransfer) {
        self.0.start_transfer(
            transfer.upload_id,
            transfer.attempt,
            transfer.url,
            transfer.method,
            transfer.headers_json,
            transfer.body_file_path,
            transfer.allows_metered,
        );
    }

    fn cancel_transfer(&self, upload_id: &str, attempt: u32) {
        self.0.cancel_transfer(upload_id.to_owned(), attempt);
    }
}

fn bgupload_open(data_dir: String, options_json: String) -> Option<String> {
    answer(core::open(Some(&data_dir), Some(&options_json)))
}

fn bgupload_open_os_owned(
    data_dir: String,
    options_json: String,
    host: ffi::BgUploadTransferHost,
) -> Option<String> {
    answer(core::open_os_owned(
        Some(&data_dir),
        Some(&options_json),
        Arc::new(SwiftHost(host)),
    ))
}

fn bgupload_init(config_json: String, listener: ffi::BgUploadEventListener) -> Option<String> {
    answer(core::init(
        Some(&config_json),
        Box::new(move |json: &str| listener.on_event(json.to_owned())),
    ))
}

fn bgupload_start_upload(payload_json: String) -> Option<String> {
    answer(core::start_upload(Some(&payload_json)))
}

fn bgupload_remove_upload(upload_id: String) -> Option<String> {
    answer(core::remove_upload(Some(&upload_id)))
}

fn bgupload_acknowledge_event(event_id: String) -> Option<String> {
    answer(core::acknowledge_event(Some(&event_id)))
}

fn bgupload_destroy() -> Option<String> {
    answer(core::destroy())
}

fn bgupload_set_network_reachable(reachable: bool) -> Option<String> {
    answer(core::set_network_reachable(reachable))
}

fn bgupload_report_progress(
    upload_id: String,
    attempt: u32,
    sent: u64,
    total: u64,
) -> Option<String> {
    answer(core::report_transfer(
        &upload_id,
        attempt,
        TransferReport::Progress { sent, total },
    ))
}

fn bgupload_set_network(reachable: bool, metered: bool) -> Option<String> {
    answer(core::set_network(reachable, metered))
}

fn bgupload_pause_upload(upload_id: String) -> Option<String> {
    answer(core::pause_upload(Some(&upload_id)))
}

fn bgupload_resume_upload(upload_id: String) -> Option<String> {
    answer(core::resume_upload(Some(&upload_id)))
}

fn bgupload_update_headers(upload_id: String, headers_json: String) -> Option<String> {
    answer(core::update_headers(Some(&upload_id), Some(&headers_json)))
}

/// The listing's JSON, or `{"error": message}` (a listing has no `error`).
fn bgupload_get_uploads() -> String {
    core::get_uploads_answer()
}

/// `retry_after` and `date`: the answer's `Retry-After` and `Date` header
/// values, "" when it had none.
fn bgupload_report_response(
    upload_id: String,
    attempt: u32,
    status: u16,
    body: String,
    retry_after: String,
    date: String,
) -> Option<String> {
    let date = Some(date.as_str()).filter(|date| !date.is_empty());
    let retry_after_millis = bgupload_io::retry_after::retry_after_millis(
        &retry_after,
        date,
        std::time::SystemTime::now(),
    );
    answer(core::report_transfer(
        &upload_id,
        attempt,
        TransferReport::Response {
            status,
            body: body.into_bytes(),
            truncated: false,
            retry_after_millis,
        },
    ))
}

fn bgupload_report_failure(
    upload_id: String,
    attempt: u32,
    message: String,
    error_code: i32,
    retryable: bool,
) -> Option<String> {
    answer(core::report_transfer(
        &upload_id,
        attempt,
        TransferReport::failed(message, error_code, retryable),
    ))
}

fn bgupload_close() -> Option<String> {
    answer(core::close())
}

#[cfg(all(test, not(feature = "swift-host")))]
mod tests;
