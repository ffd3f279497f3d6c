//! What the machine persists: the records, the changes a batch applies
//! atomically, and what a store hands back at start-up.
//!
//! These types are the whole contract between the machine and a store: a
//! store writes [`Batch::changes`] atomically, in order of [`Batch::id`], and
//! reads them back as a [`Recovered`] state.

use crate::event::TerminalEvent;
use crate::types::{Attempt, BatchId, Config, EventId, UploadId, UploadRequest};
use serde::{Deserialize, Serialize};

/// An accepted upload that has not ended yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    pub request: UploadRequest,
    /// Acceptance order: uploads start in this order.
    pub sequence: u64,
    /// The last attempt handed to a transport, if any. Persisted before the
    /// attempt starts, so attempt numbers are never reused.
    pub last_attempt: Option<Attempt>,
    /// Whether `last_attempt` was handed over and has not reported yet.
    pub in_flight: bool,
    /// Transport failures counted against `RetryPolicy::max_attempts`.
    pub counted_failures: u32,
}

/// Engine-wide values that must survive a relaunch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// The next event id to hand out. Never goes down, so an acknowledged
    /// event's id is never reused.
    pub next_event_id: u64,
    /// The last configuration the app gave with `init`.
    pub config: Config,
}

/// One change inside a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    PutUpload(UploadRecord),
    DeleteUpload(UploadId),
    PutEvent(TerminalEvent),
    DeleteEvent(EventId),
    PutMeta(Meta),
}

/// Changes to apply atomically, all or nothing, after every batch with a
/// smaller id. The machine holds back whatever depends on the batch until
/// the caller reports it durable with [`crate::Input::Durable`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    pub id: BatchId,
    pub changes: Vec<Change>,
}

/// An upload left in flight by an older storage format. The machine turns
/// each into a FAILED event with `errorCode` 500 (the reference plugin's
/// migration rule).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyUpload {
    /// The id as the old format stored it (may not be a UUID).
    pub id: String,
}

/// Everything a store loaded at start-up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    pub uploads: Vec<UploadRecord>,
    pub events: Vec<TerminalEvent>,
    pub meta: Option<Meta>,
    pub legacy_uploads: Vec<LegacyUpload>,
}
