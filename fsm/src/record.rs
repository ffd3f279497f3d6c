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
    /// Failures (transport errors, retried statuses) counted against
    /// `RetryPolicy::max_attempts`.
    pub counted_failures: u32,
    /// `pauseUpload`: no attempt starts until `resumeUpload`.
    pub paused: bool,
    /// The file's size when the upload was accepted (`bytesTotal` in a
    /// listing until an attempt reports its own total).
    pub file_size: u64,
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
    /// The id as the old format stored it (it may break today's id rules).
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

// What the machine can write, and so what a store may hand back: a store
// refuses anything else as damaged (with the record's key), and
// `Machine::recover` requires it. Everything else in a record the machine
// repairs or copes with.

impl UploadRecord {
    /// The id is one `startUpload` accepts ([`UploadId::parse`]: non-empty,
    /// within [`crate::MAX_UPLOAD_ID_BYTES`], no control characters).
    pub fn check(&self) -> Result<(), String> {
        let id = self.request.id.as_str();
        UploadId::parse(id)
            .map(drop)
            .map_err(|_| format!("upload id {id:?} is not one this engine accepts"))
    }
}

impl Meta {
    /// The counter names an id in `1..=EventId::MAX`, or the one after
    /// the last.
    pub fn check(&self) -> Result<(), String> {
        if (EventId::FIRST.0..=EventId::MAX.0 + 1).contains(&self.next_event_id) {
            Ok(())
        } else {
            Err(format!(
                "next event id {} outside {}..={}",
                self.next_event_id,
                EventId::FIRST,
                EventId::MAX.0 + 1
            ))
        }
    }
}

/// The event's id is in `1..=EventId::MAX`.
pub fn check_event(event: &TerminalEvent) -> Result<(), String> {
    if (EventId::FIRST..=EventId::MAX).contains(&event.event_id) {
        Ok(())
    } else {
        Err(format!(
            "event id {} outside {}..={}",
            event.event_id,
            EventId::FIRST,
            EventId::MAX
        ))
    }
}

impl Recovered {
    /// Every record is one the machine can have written (see
    /// [`UploadRecord::check`], [`Meta::check`], [`check_event`]), and an
    /// event id is left for every upload to end with (the machine accepts
    /// an upload only then).
    pub fn check(&self) -> Result<(), String> {
        self.uploads.iter().try_for_each(UploadRecord::check)?;
        self.events.iter().try_for_each(check_event)?;
        self.meta.as_ref().map_or(Ok(()), Meta::check)?;
        self.check_event_ids_left()
    }

    /// The part of [`Recovered::check`] no single record shows: an event
    /// id is left for every upload to end with. A store that checked each
    /// record as it decoded it needs only this.
    pub fn check_event_ids_left(&self) -> Result<(), String> {
        let ending = (self.uploads.len() + self.legacy_uploads.len()) as u64;
        let left = (EventId::MAX.0 + 1).saturating_sub(self.next_event_id());
        if ending > left {
            return Err(format!(
                "{ending} uploads to end but {left} event ids left (the last is {})",
                EventId::MAX
            ));
        }
        Ok(())
    }

    /// The first id after every stored one and the stored counter (at
    /// least [`EventId::FIRST`]). Meaningful once [`Recovered::check`]
    /// passed the records.
    pub fn next_event_id(&self) -> u64 {
        let after_events = self
            .events
            .iter()
            .map(|event| event.event_id.0.saturating_add(1));
        let counter = self.meta.map(|meta| meta.next_event_id);
        after_events.chain(counter).fold(EventId::FIRST.0, u64::max)
    }
}
