//! `getUploads` / `bgupload list --json`: the machine's own view of every
//! unfinished upload ([`Machine::uploads`]), as apps read it. It is a
//! query, not a second copy of the state; URLs lose their userinfo and
//! query (they may carry secrets), and no header value is shown.

use crate::transport::loggable_url;
use bgupload_fsm::{Machine, Time, UploadState};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One unfinished upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedUpload {
    pub id: String,
    /// `queued`, `waiting-for-network`, `running`, `retrying`, `paused` or
    /// `reconciling`.
    pub state: &'static str,
    /// For `retrying`: when the next attempt may start, in milliseconds
    /// since the Unix epoch (a JavaScript `Date`'s number).
    pub next_attempt_at: Option<u64>,
    pub attempt: u32,
    pub bytes_sent: u64,
    pub bytes_total: u64,
    /// The payload's URL without userinfo, query or fragment.
    pub server_url: String,
    pub file_path: String,
}

/// What `getUploads` answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadListing {
    pub uploads: Vec<ListedUpload>,
    pub unacknowledged_events: usize,
}

/// The listing of `machine` at machine time `now`, which is `wall_now` on
/// the wall clock.
pub fn listing(machine: &Machine, now: Time, wall_now: SystemTime) -> UploadListing {
    let uploads = machine
        .uploads()
        .into_iter()
        .map(|status| {
            let next_attempt_at = match status.state {
                UploadState::Retrying { next_attempt_at } => {
                    let ahead = next_attempt_at.saturating_millis_since(now);
                    let at = wall_now + Duration::from_millis(ahead);
                    let since_epoch = at.duration_since(UNIX_EPOCH).unwrap_or_default();
                    Some(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
                }
                _ => None,
            };
            ListedUpload {
                id: status.request.id.as_str().to_owned(),
                state: status.state.as_str(),
                next_attempt_at,
                attempt: status.attempt,
                bytes_sent: status.bytes_sent,
                bytes_total: status.bytes_total,
                server_url: loggable_url(&status.request.server_url),
                file_path: status.request.file_path.clone(),
            }
        })
        .collect();
    UploadListing {
        uploads,
        unacknowledged_events: machine.unacknowledged_events().count(),
    }
}

impl ListedUpload {
    pub fn to_json(&self) -> Value {
        let mut entry = json!({
            "id": self.id,
            "state": self.state,
            "attempt": self.attempt,
            "bytesSent": self.bytes_sent,
            "bytesTotal": self.bytes_total,
            "serverUrl": self.server_url,
            "filePath": self.file_path,
        });
        if let (Some(at), Some(object)) = (self.next_attempt_at, entry.as_object_mut()) {
            object.insert("nextAttemptAt".into(), Value::from(at));
        }
        entry
    }
}

impl UploadListing {
    /// `{"uploads": [...], "unacknowledgedEvents": n}`.
    pub fn to_json(&self) -> Value {
        json!({
            "uploads": self.uploads.iter().map(ListedUpload::to_json).collect::<Vec<_>>(),
            "unacknowledgedEvents": self.unacknowledged_events,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::listing;
    use bgupload_fsm::{
        CommandId, Config, FileCheck, Input, Machine, Options, Time, UploadPayload,
    };
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn a_listing_names_state_and_progress_without_secrets() {
        let mut machine = Machine::new(Options::new(3));
        let at = Time::from_millis(10);
        machine.handle_input(
            at,
            Input::Init {
                command: CommandId(1),
                config: Config::default(),
            },
        );
        let payload = UploadPayload {
            id: Some("a".to_owned()),
            file_path: Some("/f".to_owned()),
            server_url: Some("https://user:pw@example.test:8443/up?sig=secret#x".to_owned()),
            headers: vec![("Authorization".to_owned(), "Bearer secret".to_owned())],
            ..UploadPayload::default()
        };
        machine.handle_input(
            at,
            Input::StartUpload {
                command: CommandId(2),
                payload,
                file: FileCheck::RegularFile { size: 77 },
            },
        );
        let wall = UNIX_EPOCH + Duration::from_secs(1_000);
        let json = listing(&machine, at, wall).to_json().to_string();
        assert!(!json.contains("secret") && !json.contains("pw"), "{json}");
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "uploads": [{
                    "id": "a",
                    "state": "running",
                    "attempt": 1,
                    "bytesSent": 0,
                    "bytesTotal": 77,
                    "serverUrl": "https://example.test:8443/up",
                    "filePath": "/f",
                }],
                "unacknowledgedEvents": 0,
            })
        );
    }
}
