//! The app-facing JSON form of an [`Event`], with exactly the reference
//! plugin's field names: `id`, `state`, `progress`, `statusCode`,
//! `serverResponse`, `error`, `errorCode`, `eventId`. Used by
//! `bgupload run --json` / `events --json` and by the FFI layer, so every
//! host sees the same objects.
//!
//! - UPLOADING: `{id, state, progress}`
//! - UPLOADED: `{id, eventId, state, statusCode, serverResponse}`
//!   (`serverResponse` is `""` when the body was empty)
//! - FAILED: `{id, eventId, state, error, errorCode}`
//! - FAILED without `eventId` (a refused `startUpload`): `{id?, state, error}`
//!   — `id` only when the payload had one, never `errorCode`.
//!
//! `eventId` is a JSON number.

use bgupload_fsm::{Event, Outcome, TerminalEvent};
use serde_json::{Map, Value};

/// The reference plugin's event object for `event`.
pub fn event_to_json(event: &Event) -> Value {
    let mut object = Map::new();
    match event {
        Event::Progress {
            upload_id,
            progress,
        } => {
            object.insert("id".into(), Value::from(upload_id.as_str()));
            object.insert("progress".into(), Value::from(*progress));
        }
        Event::Terminal(TerminalEvent {
            event_id,
            upload_id,
            outcome,
        }) => {
            object.insert("id".into(), Value::from(upload_id.as_str()));
            object.insert("eventId".into(), Value::from(event_id.0));
            match outcome {
                Outcome::Uploaded {
                    status_code,
                    server_response,
                    response_truncated: _,
                } => {
                    object.insert("statusCode".into(), Value::from(*status_code));
                    object.insert(
                        "serverResponse".into(),
                        Value::from(server_response.as_str()),
                    );
                }
                Outcome::Failed { error, error_code } => {
                    object.insert("error".into(), Value::from(error.as_str()));
                    object.insert("errorCode".into(), Value::from(*error_code));
                }
            }
        }
        Event::Rejected(rejection) => {
            if let Some(id) = &rejection.id {
                object.insert("id".into(), Value::from(id.as_str()));
            }
            object.insert("error".into(), Value::from(rejection.error.as_str()));
        }
    }
    object.insert("state".into(), Value::from(event.state()));
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgupload_fsm::{EventId, Rejection, UploadId};
    use serde_json::json;

    const ID: &str = "c3a4b4c7-4f1e-4c69-a951-773602e269fb";

    fn upload_id() -> UploadId {
        UploadId::parse(ID).unwrap()
    }

    #[test]
    fn uploading_has_id_state_progress_only() {
        let event = Event::Progress {
            upload_id: upload_id(),
            progress: 42,
        };
        assert_eq!(
            event_to_json(&event),
            json!({"id": ID, "state": "UPLOADING", "progress": 42})
        );
    }

    #[test]
    fn uploaded_has_status_and_response_even_when_empty() {
        let event = Event::Terminal(TerminalEvent {
            event_id: EventId(7),
            upload_id: upload_id(),
            outcome: Outcome::Uploaded {
                status_code: 201,
                server_response: String::new(),
                response_truncated: false,
            },
        });
        assert_eq!(
            event_to_json(&event),
            json!({"id": ID, "eventId": 7, "state": "UPLOADED", "statusCode": 201, "serverResponse": ""})
        );
    }

    #[test]
    fn failed_has_error_and_code() {
        let event = Event::Terminal(TerminalEvent {
            event_id: EventId(8),
            upload_id: upload_id(),
            outcome: Outcome::Failed {
                error: "Upload cancelled".into(),
                error_code: -999,
            },
        });
        assert_eq!(
            event_to_json(&event),
            json!({"id": ID, "eventId": 8, "state": "FAILED", "error": "Upload cancelled", "errorCode": -999})
        );
    }

    #[test]
    fn rejection_has_no_event_id_nor_error_code() {
        let with_id = Event::Rejected(Rejection {
            id: Some(ID.into()),
            error: "File not found: /nope".into(),
        });
        assert_eq!(
            event_to_json(&with_id),
            json!({"id": ID, "state": "FAILED", "error": "File not found: /nope"})
        );
        let without_id = Event::Rejected(Rejection {
            id: None,
            error: "Upload ID is required".into(),
        });
        assert_eq!(
            event_to_json(&without_id),
            json!({"state": "FAILED", "error": "Upload ID is required"})
        );
    }
}
