//! What the app receives: the reference plugin's three event states.

use crate::error_code::ErrorCode;
use crate::types::{EventId, UploadId};
use serde::{Deserialize, Serialize};

/// `error` of an upload whose attempt numbers ran out
/// ([`crate::Attempt::MAX`]): four billion attempts, or a damaged store.
pub const MSG_ATTEMPTS_EXHAUSTED: &str = "Upload gave up: no attempt number is left";
/// `error` of a cancelled upload; contains "cancel" as the reference's does.
pub const MSG_CANCELLED: &str = "Upload cancelled";
/// `error` of an upload migrated from an older storage format.
pub const MSG_LEGACY: &str = "Upload interrupted by an engine upgrade; start it again";

/// How an upload ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// The server answered (any HTTP status: reference behaviour).
    Uploaded {
        status_code: u16,
        /// The body as text (lossy UTF-8), "" when empty, cut to the limit.
        server_response: String,
        /// Whether `server_response` was cut.
        response_truncated: bool,
    },
    Failed {
        error: String,
        error_code: i32,
    },
    /// Under `statusPolicy: "standard"`: the server answered with a status
    /// that is not 2xx and not retried (or the retries ran out). FAILED,
    /// with `errorCode` = the status, and the answer kept as UPLOADED
    /// keeps it. (Last, so that stored events of earlier builds decode.)
    FailedByServer {
        error: String,
        status_code: u16,
        server_response: String,
        response_truncated: bool,
    },
}

impl Outcome {
    /// The event's `error`, for a FAILED one.
    pub fn error(&self) -> Option<&str> {
        match self {
            Outcome::Uploaded { .. } => None,
            Outcome::Failed { error, .. } | Outcome::FailedByServer { error, .. } => Some(error),
        }
    }

    /// The event's `errorCode`, for a FAILED one.
    pub fn error_code(&self) -> Option<i32> {
        match self {
            Outcome::Uploaded { .. } => None,
            Outcome::Failed { error_code, .. } => Some(*error_code),
            Outcome::FailedByServer { status_code, .. } => Some(i32::from(*status_code)),
        }
    }
}

/// `error` of an upload the server refused under `statusPolicy:
/// "standard"`.
pub fn server_refused_message(status: u16) -> String {
    format!("Server answered HTTP {status}")
}

/// A terminal event: UPLOADED or FAILED with an `eventId`. It is also the
/// persisted record: re-delivered on every `init` until acknowledged, always
/// identical.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalEvent {
    pub event_id: EventId,
    pub upload_id: UploadId,
    pub outcome: Outcome,
}

/// A refused command: the reference plugin's FAILED event without `eventId`,
/// with `id` when the payload had one. Every refusal the engine makes has an
/// `errorCode` from [`ErrorCode`]; the reference's five JS-side messages
/// (payload missing, id required, server URL required or blank, filePath
/// required) have none, as in the reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub id: Option<String>,
    pub error: String,
    pub error_code: Option<i32>,
}

impl Rejection {
    /// One of the reference's own messages: no `errorCode`.
    pub fn reference(id: Option<String>, error: &str) -> Rejection {
        Rejection {
            id,
            error: error.to_owned(),
            error_code: None,
        }
    }

    /// A refusal of the engine's own, with its code.
    pub fn coded(id: Option<String>, code: ErrorCode, error: String) -> Rejection {
        Rejection {
            id,
            error,
            error_code: Some(code.code()),
        }
    }
}

/// An event for the app's single callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// UPLOADING: `{id, state, progress}`. Never persisted, no `eventId`.
    Progress { upload_id: UploadId, progress: u8 },
    /// UPLOADED or FAILED with `eventId`.
    Terminal(TerminalEvent),
    /// FAILED without `eventId`: `startUpload` refused the payload.
    Rejected(Rejection),
}

impl Event {
    /// The reference plugin's `state` field.
    pub fn state(&self) -> &'static str {
        match self {
            Event::Progress { .. } => "UPLOADING",
            Event::Terminal(TerminalEvent {
                outcome: Outcome::Uploaded { .. },
                ..
            }) => "UPLOADED",
            Event::Terminal(_) | Event::Rejected(_) => "FAILED",
        }
    }
}
