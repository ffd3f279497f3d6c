//! Plain values the machine works with: time, identifiers, the upload
//! request, configuration and limits.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A point in time, in milliseconds since an epoch the caller chooses.
///
/// The machine never reads a clock: every input carries the caller's `now`.
/// Across a relaunch the epoch may change, so no `Time` is ever persisted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(u64);

impl Time {
    pub const ZERO: Time = Time(0);

    pub const fn from_millis(millis: u64) -> Time {
        Time(millis)
    }

    /// `elapsed` since the epoch, in whole milliseconds (saturating).
    pub fn from_duration(elapsed: std::time::Duration) -> Time {
        Time(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
    }

    pub const fn as_millis(self) -> u64 {
        self.0
    }

    pub const fn saturating_add_millis(self, millis: u64) -> Time {
        Time(self.0.saturating_add(millis))
    }

    pub const fn saturating_millis_since(self, earlier: Time) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// The app's id of an upload: any non-empty string of at most
/// [`MAX_UPLOAD_ID_BYTES`] bytes of UTF-8 without control characters, kept
/// exactly as the app wrote it (the reference plugin checks nothing; its
/// own tests use ids like `abc` and `123_456`), so events echo it back
/// unchanged. Two ids are the same when their bytes are. An id is never a
/// file name as it is: hosts that need one derive a safe name from it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UploadId(String);

impl UploadId {
    /// Checks `text` against the id rules and keeps it as written.
    pub fn parse(text: &str) -> Result<UploadId, &'static str> {
        if text.is_empty() {
            return Err(crate::validate::MSG_ID_REQUIRED);
        }
        if text.len() > MAX_UPLOAD_ID_BYTES {
            return Err(crate::validate::MSG_ID_TOO_LONG);
        }
        if text.chars().any(char::is_control) {
            return Err(crate::validate::MSG_ID_CONTROL_CHARACTER);
        }
        Ok(UploadId(text.to_owned()))
    }

    /// An id read back from storage (or from an older format, whose ids
    /// follow no rule): kept exactly as stored, since it is also the key
    /// that deletes the record. Its length is bounded by the store's key
    /// limit.
    pub fn from_stored(text: &str) -> UploadId {
        UploadId(text.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest accepted upload id, in bytes of UTF-8 (the store's key limit).
pub const MAX_UPLOAD_ID_BYTES: usize = 1_024;

/// Identifies one persisted terminal event. Drawn from a persisted monotonic
/// counter, so an id is never reused, even after acknowledgement, and the
/// order of ids is the order of re-delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventId(pub u64);

impl EventId {
    /// The first id handed out.
    pub const FIRST: EventId = EventId(1);
    /// The last id handed out: 2^53 - 1, JavaScript's
    /// `Number.MAX_SAFE_INTEGER`, so an app reads every `eventId` exactly
    /// and acknowledges the event it was given. A million events a second
    /// would take 285 years to reach it.
    pub const MAX: EventId = EventId((1 << 53) - 1);
}

impl EventId {
    /// The event an app's `eventId` text names: the decimal form the engine
    /// hands out (`"7"`), and nothing else. Any other text names no event
    /// this engine issued (`"007"`, `"-1"`, `"1e3"`, an iOS Core Data URI,
    /// an upload id): acknowledging it succeeds and changes nothing.
    pub fn from_app_text(text: &str) -> Option<EventId> {
        let canonical = !text.is_empty()
            && text.len() <= 16
            && text.bytes().all(|byte| byte.is_ascii_digit())
            && !text.starts_with('0');
        let id = EventId(text.parse().ok().filter(|_| canonical)?);
        (EventId::FIRST..=EventId::MAX).contains(&id).then_some(id)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The number of one transfer attempt of one upload, starting at 1.
///
/// It only grows, across relaunches too (it is persisted), so a report from
/// an earlier attempt can always be told apart and ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Attempt(pub u32);

impl Attempt {
    /// The last number: an upload that used it ends FAILED
    /// ([`crate::ErrorCode::AttemptsExhausted`]) instead of starting
    /// another attempt, so no number is ever handed out twice.
    pub const MAX: Attempt = Attempt(u32::MAX);

    /// The number after this one, if any is left.
    pub fn next(self) -> Option<Attempt> {
        self.0.checked_add(1).map(Attempt)
    }
}

/// Numbers the persist batches the machine hands out, from 1, in order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BatchId(pub u64);

/// A token the caller attaches to a command; the machine answers it with
/// [`crate::Effect::CommandDone`] once the command's effect is durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommandId(pub u64);

/// HTTP method of an upload. The reference plugin allows POST and PUT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Method {
    Post,
    Put,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
        }
    }
}

/// How the file travels in the request body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BodyFormat {
    /// `multipart/form-data`: parameters, then the file part named `file_key`
    /// (the reference plugin's format).
    #[default]
    Multipart,
    /// The file bytes are the whole body (presigned-URL uploads).
    Raw,
}

/// What the app asked for in `startUpload(payload)`, before validation.
///
/// Every field is optional here because the app may leave any of them out;
/// [`crate::validate`] turns it into an [`UploadRequest`] or a rejection with
/// the reference plugin's message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadPayload {
    pub id: Option<String>,
    pub file_path: Option<String>,
    pub file_key: Option<String>,
    pub server_url: Option<String>,
    pub headers: Vec<(String, String)>,
    pub parameters: Vec<(String, String)>,
    pub notification_title: Option<String>,
    pub request_method: Option<String>,
    pub body_format: BodyFormat,
    /// `statusPolicy`: this upload's own, or `None` for the config's.
    pub status_policy: Option<StatusPolicy>,
    /// `idempotencyKey`: this upload's own, or `None` for the config's.
    pub idempotency_key: Option<bool>,
    /// `network`: this upload's own, or `None` for the config's.
    pub network: Option<NetworkRequirement>,
}

/// What the caller found on disk at `file_path` when the command came in.
/// The machine does no IO: the driver looks and reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileCheck {
    /// Nothing was looked up (no path was given).
    NotChecked,
    Missing,
    NotARegularFile,
    Unreadable,
    RegularFile {
        size: u64,
    },
}

/// A validated upload request: what is persisted and what a transfer needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRequest {
    pub id: UploadId,
    pub file_path: String,
    pub file_key: String,
    pub server_url: String,
    pub headers: Vec<(String, String)>,
    pub parameters: Vec<(String, String)>,
    pub notification_title: String,
    pub method: Method,
    pub body_format: BodyFormat,
    /// Which answers end the upload as UPLOADED (resolved at acceptance:
    /// the payload's, else the config's then in force).
    pub status_policy: StatusPolicy,
    /// `Idempotency-Key` of every attempt: drawn once, at acceptance, when
    /// the upload (or the config) asked for one. A structured-field string
    /// value, quotes included, as the IETF httpapi draft writes it.
    pub idempotency_key: Option<String>,
    /// Which networks the upload may use (resolved at acceptance).
    pub network: NetworkRequirement,
}

impl UploadRequest {
    /// The headers every attempt sends, in order: the app's, then the
    /// upload's `Idempotency-Key` if it has one.
    pub fn headers_to_send(&self) -> impl Iterator<Item = (&str, &str)> {
        let key = self
            .idempotency_key
            .as_deref()
            .map(|key| (crate::validate::IDEMPOTENCY_KEY_HEADER, key));
        self.headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .chain(key)
    }
}

/// Which HTTP answers end an upload as UPLOADED (`statusPolicy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StatusPolicy {
    /// `"any"`, the reference's rule: any answer is UPLOADED.
    #[default]
    Any,
    /// `"standard"`: 2xx is UPLOADED; 408, 425, 429, 500, 502, 503 and 504
    /// are retried (counted, waiting at least what `Retry-After` says);
    /// any other status is FAILED with `errorCode` = the status.
    Standard,
}

/// What a [`StatusPolicy`] makes of one HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusVerdict {
    Uploaded,
    Retry,
    Failed,
}

/// Statuses `"standard"` retries: the server may take the same request
/// later (RFC 9110 and RFC 6585's transient answers).
pub const RETRIED_STATUSES: [u16; 7] = [408, 425, 429, 500, 502, 503, 504];

impl StatusPolicy {
    /// The app's name of the policy.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusPolicy::Any => "any",
            StatusPolicy::Standard => "standard",
        }
    }

    /// The policy an app's name names.
    pub fn from_name(name: &str) -> Option<StatusPolicy> {
        match name {
            "any" => Some(StatusPolicy::Any),
            "standard" => Some(StatusPolicy::Standard),
            _ => None,
        }
    }

    pub fn verdict(self, status: u16) -> StatusVerdict {
        match self {
            StatusPolicy::Any => StatusVerdict::Uploaded,
            StatusPolicy::Standard if (200..300).contains(&status) => StatusVerdict::Uploaded,
            StatusPolicy::Standard if RETRIED_STATUSES.contains(&status) => StatusVerdict::Retry,
            StatusPolicy::Standard => StatusVerdict::Failed,
        }
    }
}

/// Which networks an upload may use (`network`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NetworkRequirement {
    /// `"any"`: any reachable network.
    #[default]
    Any,
    /// `"unmetered"`: Wi-Fi or Ethernet, never a metered (cellular,
    /// hotspot) network. Until one is there the upload waits, spends no
    /// attempt and holds no parallel slot.
    Unmetered,
}

impl NetworkRequirement {
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkRequirement::Any => "any",
            NetworkRequirement::Unmetered => "unmetered",
        }
    }

    pub fn from_name(name: &str) -> Option<NetworkRequirement> {
        match name {
            "any" => Some(NetworkRequirement::Any),
            "unmetered" => Some(NetworkRequirement::Unmetered),
            _ => None,
        }
    }

    /// Whether a network in `state` will do.
    pub fn is_met_by(self, state: NetworkState) -> bool {
        state.reachable && (self == NetworkRequirement::Any || !state.metered)
    }
}

/// The host's view of the network: reachable, and whether it is metered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NetworkState {
    pub reachable: bool,
    pub metered: bool,
}

impl NetworkState {
    /// A reachable unmetered network (the desktop's usual one).
    pub const UNMETERED: NetworkState = NetworkState {
        reachable: true,
        metered: false,
    };
    pub const UNREACHABLE: NetworkState = NetworkState {
        reachable: false,
        metered: false,
    };
}

/// Which process owns a running transfer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TransferOwnership {
    /// Android and desktop: the engine's own process runs the transfer; a kill
    /// stops it and relaunch starts a new attempt.
    #[default]
    Engine,
    /// iOS: a background URLSession owned by the OS runs the transfer and
    /// outlives the app; on relaunch the engine waits (bounded) for the
    /// outcome of the attempt that was handed over.
    Os,
}

/// Retry policy: transport errors (no response) are retried, and, under
/// [`StatusPolicy::Standard`], the transient statuses; both count against
/// `max_attempts`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Attempts that may fail with a transport error before the upload is
    /// FAILED. Failures while the network is known to be down do not count.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles each failure.
    pub initial_backoff_millis: u64,
    /// Cap on one backoff.
    pub max_backoff_millis: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            initial_backoff_millis: 1_000,
            max_backoff_millis: 5 * 60 * 1_000,
        }
    }
}

/// Limits on UPLOADING events: at most one per upload per `min_interval_millis`
/// and only when the whole percent changed by at least `min_percent_step`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressThrottle {
    pub min_interval_millis: u64,
    pub min_percent_step: u8,
}

impl Default for ProgressThrottle {
    fn default() -> Self {
        ProgressThrottle {
            min_interval_millis: 500,
            min_percent_step: 1,
        }
    }
}

/// The app's configuration, given with `init` and persisted, so that a
/// relaunch in the background (before the app calls `init` again) keeps the
/// same limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Transfers in flight at most, across all hosts. Default 1.
    pub parallel_uploads_limit: u32,
    pub retry: RetryPolicy,
    pub progress: ProgressThrottle,
    /// Default `statusPolicy` of uploads started from here on.
    pub status_policy: StatusPolicy,
    /// Default `idempotencyKey` of uploads started from here on.
    pub idempotency_key: bool,
    /// Default `network` of uploads started from here on.
    pub network: NetworkRequirement,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            parallel_uploads_limit: DEFAULT_PARALLEL_UPLOADS_LIMIT,
            retry: RetryPolicy::default(),
            progress: ProgressThrottle::default(),
            status_policy: StatusPolicy::Any,
            idempotency_key: false,
            network: NetworkRequirement::Any,
        }
    }
}

pub const DEFAULT_PARALLEL_UPLOADS_LIMIT: u32 = 1;
pub const MAX_PARALLEL_UPLOADS_LIMIT: u32 = 64;
pub const MAX_RETRY_ATTEMPTS: u32 = 1_000;
pub const MAX_BACKOFF_MILLIS: u64 = 24 * 60 * 60 * 1_000;

/// Bounds on everything the app or a server can make the engine hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Uploads accepted and not yet terminal.
    pub max_uploads: usize,
    /// Terminal events persisted and not yet acknowledged. When full, new
    /// uploads are refused (an accepted upload must always be able to end).
    pub max_unacknowledged_events: usize,
    pub max_file_path_bytes: usize,
    pub max_server_url_bytes: usize,
    pub max_file_key_bytes: usize,
    pub max_notification_title_bytes: usize,
    pub max_header_count: usize,
    /// Sum of header name and value bytes.
    pub max_header_bytes: usize,
    pub max_parameter_count: usize,
    /// Sum of parameter name and value bytes.
    pub max_parameter_bytes: usize,
    /// Bytes of the server's answer kept in `serverResponse`.
    pub max_response_bytes: usize,
    /// Bytes of a transport error message kept in `error`.
    pub max_error_message_bytes: usize,
    /// How long a relaunched engine waits for the outcome of an OS-owned
    /// transfer before it starts a new attempt.
    pub reconcile_timeout_millis: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_uploads: 10_000,
            max_unacknowledged_events: 100_000,
            max_file_path_bytes: 4_096,
            max_server_url_bytes: 8_192,
            max_file_key_bytes: 256,
            max_notification_title_bytes: 1_024,
            max_header_count: 64,
            max_header_bytes: 16 * 1_024,
            max_parameter_count: 256,
            max_parameter_bytes: 1024 * 1_024,
            max_response_bytes: 64 * 1_024,
            max_error_message_bytes: 1_024,
            reconcile_timeout_millis: 10 * 60 * 1_000,
        }
    }
}

/// Fixed at construction: what the engine is, as opposed to what the app
/// configures with `init`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Seed of the retry jitter and of idempotency keys. The same seed
    /// and inputs give the same outputs. Every process must bring a new
    /// one (the hosts draw it from the OS): keys drawn from a repeated
    /// seed would repeat.
    pub seed: u64,
    pub ownership: TransferOwnership,
    pub limits: Limits,
    /// The network when the machine is built. A host that knows it is
    /// offline (or a process that only enqueues, such as `bgupload add`)
    /// passes [`NetworkState::UNREACHABLE`]: nothing starts until an
    /// `Input::NetworkChanged` says it is reachable.
    pub network: NetworkState,
}

impl Options {
    pub fn new(seed: u64) -> Options {
        Options {
            seed,
            ownership: TransferOwnership::Engine,
            limits: Limits::default(),
            network: NetworkState::UNMETERED,
        }
    }
}
