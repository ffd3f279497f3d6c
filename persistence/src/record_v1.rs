//! The record shapes of store format 1 (version byte 1), frozen as they
//! were written before queue control (#15), and how each becomes today's.
//! Never change these: stores on phones hold them.

use bgupload_fsm::{
    Attempt, BodyFormat, Config, Meta, Method, NetworkRequirement, ProgressThrottle, RetryPolicy,
    StatusPolicy, UploadId, UploadRecord, UploadRequest,
};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRequestV1 {
    pub id: UploadId,
    pub file_path: String,
    pub file_key: String,
    pub server_url: String,
    pub headers: Vec<(String, String)>,
    pub parameters: Vec<(String, String)>,
    pub notification_title: String,
    pub method: Method,
    pub body_format: BodyFormat,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecordV1 {
    pub request: UploadRequestV1,
    pub sequence: u64,
    pub last_attempt: Option<Attempt>,
    pub in_flight: bool,
    pub counted_failures: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigV1 {
    pub parallel_uploads_limit: u32,
    pub retry: RetryPolicy,
    pub progress: ProgressThrottle,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaV1 {
    pub next_event_id: u64,
    pub config: ConfigV1,
}

impl From<UploadRecordV1> for UploadRecord {
    /// An upload of format 1 keeps the behaviour it was accepted with: the
    /// reference's status rule, no key, any network, not paused. Its size
    /// is not known until an attempt reports one.
    fn from(old: UploadRecordV1) -> UploadRecord {
        let request = old.request;
        UploadRecord {
            request: UploadRequest {
                id: request.id,
                file_path: request.file_path,
                file_key: request.file_key,
                server_url: request.server_url,
                headers: request.headers,
                parameters: request.parameters,
                notification_title: request.notification_title,
                method: request.method,
                body_format: request.body_format,
                status_policy: StatusPolicy::Any,
                idempotency_key: None,
                network: NetworkRequirement::Any,
            },
            sequence: old.sequence,
            last_attempt: old.last_attempt,
            in_flight: old.in_flight,
            counted_failures: old.counted_failures,
            paused: false,
            file_size: 0,
        }
    }
}

impl From<MetaV1> for Meta {
    fn from(old: MetaV1) -> Meta {
        Meta {
            next_event_id: old.next_event_id,
            config: Config {
                parallel_uploads_limit: old.config.parallel_uploads_limit,
                retry: old.config.retry,
                progress: old.config.progress,
                ..Config::default()
            },
        }
    }
}
