//! # bgupload-fsm — the upload state machine
//!
//! Owns the whole upload lifecycle and the event log of bgupload: validation,
//! queueing under the parallel limit, retries with backoff, cancellation,
//! terminal events and their acknowledgement, and recovery after a relaunch.
//! It is sans-IO in the manner of quinn-proto, rustls and str0m: it must
//! never block, sleep, read a clock, draw its own random numbers, touch a
//! file or a socket, or spawn a thread. Time comes in with every input;
//! randomness (retry jitter) comes from the seed in [`Options`].
//!
//! ## Driving it
//!
//! ```
//! use bgupload_fsm::{CommandId, Config, Effect, Input, Machine, Options, Time};
//! let mut machine = Machine::new(Options::new(7));
//! machine.handle_input(Time::from_millis(0), Input::Init { command: CommandId(1), config: Config::default() });
//! while let Some(effect) = machine.poll_effect() {
//!     match effect {
//!         Effect::PersistBatch(batch) => {
//!             // write batch.changes atomically, fsync, then:
//!             machine.handle_input(Time::from_millis(1), Input::Durable { through: batch.id });
//!         }
//!         _ => { /* start/cancel transfers, deliver events, answer commands */ }
//!     }
//! }
//! let _next_deadline = machine.poll_timeout(); // feed Input::Timeout then
//! ```
//!
//! ## Inputs ([`Input`])
//! - `Init { command, config }` — `init(config, callback)`: attach, persist
//!   the [`Config`] (`parallelUploadsLimit`, [`RetryPolicy`],
//!   [`ProgressThrottle`], and the defaults of later uploads:
//!   [`StatusPolicy`], `idempotencyKey`, [`NetworkRequirement`]),
//!   re-deliver every unacknowledged terminal event in `eventId` order.
//!   Allowed again at any time.
//! - `StartUpload { command, payload, file }` — `startUpload(payload)`; the
//!   caller reports what it found at `filePath` as a [`FileCheck`].
//! - `RemoveUpload { command, upload_id }` — cancel: persisted FAILED -999.
//! - `PauseUpload` / `ResumeUpload { command, upload_id }` — a paused
//!   upload holds no slot and starts no attempt, across relaunches; no
//!   event. Unknown ids succeed unchanged.
//! - `UpdateHeaders { command, upload_id, headers }` — later attempts send
//!   these headers; refused (-4008) for an upload not in progress.
//! - `AcknowledgeEvent { command, event_id }` — durable removal of an event.
//! - `Destroy { command }` — detach the callback; uploads go on.
//! - `NetworkChanged(NetworkState { reachable, metered })` — no attempt
//!   starts while unreachable, and failures then do not count against
//!   `maxAttempts`; an `"unmetered"` upload waits while the network is
//!   metered (its running attempt stops, uncounted) and another may take
//!   its slot.
//! - `StorageChanged(space)` — [`StorageSpace`]: once the store's disk is
//!   full, new uploads are refused ("No space left on device", -4007);
//!   accepted ones go on in the reserve's room, and once that is spent no
//!   attempt starts, until the disk has room again.
//! - `Transfer { upload_id, attempt, report }` — [`TransferReport`]:
//!   `Progress { sent, total }`, `Response { status, body, truncated,
//!   retry_after_millis }` (the upload's [`StatusPolicy`] decides: under
//!   `"standard"` a transient status is retried no sooner than
//!   `Retry-After` and no later than `maxBackoffMillis`) or
//!   `Failed(TransferFailure { message, error_code, retryable })`. Reports for
//!   any attempt but the current one are ignored.
//! - `Durable { through }` — batches up to `through` are on disk.
//! - `Timeout` — the deadline of [`Machine::poll_timeout`] came.
//! - [`Machine::recover`] — the relaunch constructor, from a store's
//!   [`Recovered`] state.
//!
//! [`Machine::uploads`] is `getUploads`: each unfinished upload with its
//! [`UploadState`], attempt and bytes, read from the machine itself.
//!
//! ## Effects ([`Effect`], drained with [`Machine::poll_effect`])
//! - `PersistBatch(Batch)` — write [`Batch::changes`] ([`Change`]:
//!   `PutUpload`, `DeleteUpload`, `PutEvent`, `DeleteEvent`, `PutMeta`)
//!   atomically, then confirm with `Durable`.
//! - `StartAttempt { request, attempt }` / `CancelAttempt { upload_id, attempt }`.
//! - `Deliver(Event)` — for the app's callback.
//! - `CommandDone { command, result }` — a command's answer.
//!
//! Write-ahead: `StartAttempt`, `Deliver` and `CommandDone` are held back
//! until every batch handed out before them is durable. So a terminal event
//! reaches the app only once it is on disk, an acknowledgement is confirmed
//! only once its deletion is on disk, and `startUpload` returns only once the
//! upload is on disk. `PersistBatch` and `CancelAttempt` are never held, so a
//! caller may gather several batches into one fsync (group commit).
//!
//! ## Events ([`Event`]), with the reference plugin's fields
//! - UPLOADING: `{id, state, progress}` — `Event::Progress`; never persisted,
//!   no `eventId`, throttled (one per `min_interval_millis` and per
//!   `min_percent_step` percent), never after the upload's terminal event.
//! - UPLOADED: `{id, eventId, state, statusCode, serverResponse}` —
//!   `Event::Terminal` with `Outcome::Uploaded` (any HTTP status under
//!   `"any"`, 2xx under `"standard"`; `response_truncated` says the body
//!   was cut to the limit).
//! - FAILED: `{id, eventId, state, error, errorCode}` — `Event::Terminal`
//!   with `Outcome::Failed`; codes from the one table [`ErrorCode`]. Under
//!   `"standard"`, a refused status is `Outcome::FailedByServer`: FAILED
//!   with `errorCode` = the status and `statusCode`, `serverResponse` kept.
//! - FAILED without `eventId`: `{id?, state, error, errorCode?}` —
//!   `Event::Rejected`, a refused `startUpload`: the reference plugin's
//!   messages ([`validate`]), and an [`ErrorCode`] on every refusal but the
//!   reference's five JS-side ones.
//!
//! Ids: an upload id is any non-empty text without control characters of
//! at most [`MAX_UPLOAD_ID_BYTES`], kept as written ([`UploadId`]); an
//! `eventId` is handed out as decimal text and names an event only in
//! that form ([`EventId::from_app_text`]).
//!
//! ## Invariants (asserted here, and checked by the property suite)
//! 1. Every accepted upload ends in exactly one terminal event.
//! 2. A terminal event is delivered at least once, again on every init until
//!    acknowledged, never after its acknowledgement is confirmed.
//! 3. A re-delivered event is identical, `eventId` included.
//! 4. Never more than `parallelUploadsLimit` transfers in flight.
//! 5. No UPLOADING event for an upload after its terminal event.
//! 6. UPLOADED means the server answered (the transport's duty to send the
//!    whole file; checked by the simulator).
//! 7. A kill at any instant loses no accepted upload and no terminal event:
//!    everything that was confirmed or delivered is in a durable batch.
//! 8. A paused upload starts no attempt; an `"unmetered"` one none on a
//!    metered network; a retried status waits at least `Retry-After`
//!    (within `maxBackoffMillis`).
//! 9. An upload's idempotency key is drawn once, persisted with it, and
//!    the same on every attempt, across relaunches.
//!
//! ## Limits
//! Every size and count is bounded by [`Limits`] or a named constant; going
//! over one is a clear rejection, never a panic.

mod error_code;
mod event;
mod machine;
mod record;
mod rng;
mod types;
pub mod validate;

pub use error_code::ErrorCode;
pub use event::{
    Event, MSG_ATTEMPTS_EXHAUSTED, MSG_CANCELLED, MSG_LEGACY, Outcome, Rejection, TerminalEvent,
    server_refused_message,
};
pub use machine::{
    AttemptReport, Effect, Input, Machine, StorageSpace, TransferFailure, TransferReport,
    UploadState, UploadStatus,
};
pub use record::{Batch, Change, LegacyUpload, Meta, Recovered, UploadRecord, check_event};
pub use rng::SplitMix64;
pub use types::{
    Attempt, BatchId, BodyFormat, CommandId, Config, DEFAULT_PARALLEL_UPLOADS_LIMIT, EventId,
    FileCheck, Limits, MAX_BACKOFF_MILLIS, MAX_PARALLEL_UPLOADS_LIMIT, MAX_RETRY_ATTEMPTS,
    MAX_UPLOAD_ID_BYTES, Method, NetworkRequirement, NetworkState, Options, ProgressThrottle,
    RETRIED_STATUSES, RetryPolicy, StatusPolicy, StatusVerdict, Time, TransferOwnership, UploadId,
    UploadPayload, UploadRequest,
};
