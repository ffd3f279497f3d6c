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
//! - FAILED without `eventId` (a refused `startUpload`): `{id?, state, error,
//!   errorCode?}` — `id` only when the payload had one, `errorCode` on every
//!   refusal but the reference's five JS-side ones.
//!
//! `eventId` is a JSON string (`"7"`), as on both reference platforms (the
//! upload id on Android, a Core Data URI on iOS): apps compare and store it
//! as text.

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
            object.insert("eventId".into(), Value::from(event_id.to_string()));
            // FAILED: `error` and the one `errorCode` rule of the outcome.
            if let (Some(error), Some(code)) = (outcome.error(), outcome.error_code()) {
                object.insert("error".into(), Value::from(error));
                object.insert("errorCode".into(), Value::from(code));
            }
            // The server's answer, as UPLOADED keeps it (and FAILED under
            // `statusPolicy: "standard"`).
            if let Outcome::Uploaded {
                status_code,
                server_response,
                ..
            }
            | Outcome::FailedByServer {
                status_code,
                server_response,
                ..
            } = outcome
            {
                object.insert("statusCode".into(), Value::from(*status_code));
                object.insert(
                    "serverResponse".into(),
                    Value::from(server_response.as_str()),
                );
            }
        }
        Event::Rejected(rejection) => {
            if let Some(id) = &rejection.id {
                object.insert("id".into(), Value::from(id.as_str()));
            }
            object.insert("error".into(), Value::from(rejection.error.as_str()));
            if let Some(code) = rejection.error_code {
                object.insert("errorCode".into(), Value::from(code));
            }
        }
    }
    object.insert("state".into(), Value::from(event.state()));
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgupload_fsm::{ErrorCode, EventId, Rejection, UploadId};
    use serde_json::json;

    const ID: &str = "photo 1/../x";

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
            json!({"id": ID, "eventId": "7", "state": "UPLOADED", "statusCode": 201, "serverResponse": ""})
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
            json!({"id": ID, "eventId": "8", "state": "FAILED", "error": "Upload cancelled", "errorCode": -999})
        );
    }

    #[test]
    fn rejections_have_no_event_id_and_a_code_unless_the_reference_gives_none() {
        let coded = Event::Rejected(Rejection::coded(
            Some("abc".into()),
            ErrorCode::FileDoesNotExist,
            "File not found: /nope".into(),
        ));
        assert_eq!(
            event_to_json(&coded),
            json!({"id": "abc", "state": "FAILED", "error": "File not found: /nope", "errorCode": -1100})
        );
        let reference = Event::Rejected(Rejection::reference(None, "Upload ID is required"));
        assert_eq!(
            event_to_json(&reference),
            json!({"state": "FAILED", "error": "Upload ID is required"})
        );
    }
}
