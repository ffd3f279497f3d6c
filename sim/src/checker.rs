//! The invariant checker: fed by what the engine hands the app (at the
//! callback), what the app consumes, what the app is told about its
//! commands, the store's durable state and the server's receptions. It
//! checks DESIGN.md invariants 1–7 at every observation and liveness at the
//! end; each violation is a sentence naming what broke.

use crate::wire::ServerLog;
use bgupload_fsm::{Event, EventId, Outcome, Recovered, TerminalEvent};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Default)]
pub struct Checker {
    /// Upload ids whose `startUpload` returned Ok.
    pub accepted: BTreeSet<String>,
    /// Upload ids the app asked to remove (after acceptance or not).
    pub removed: BTreeSet<String>,
    /// Every terminal event seen at the callback, by id.
    pub terminal: BTreeMap<EventId, TerminalEvent>,
    /// The terminal event id of each upload.
    pub terminal_of_upload: BTreeMap<String, EventId>,
    /// Acknowledgements confirmed to the app.
    pub acknowledged: BTreeSet<EventId>,
    /// Events consumed by the app and not acknowledged yet.
    pub unacknowledged: BTreeSet<EventId>,
    pub events_delivered: u64,
    pub events_consumed: u64,
    pub violations: Vec<String>,
    /// FNV-1a over everything the app consumed, in order.
    pub trace_hash: u64,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

pub fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(FNV_PRIME)
    })
}

/// Whether the store holds the upload `id` or an event for it.
fn is_stored(durable: &Recovered, id: &str) -> bool {
    durable
        .uploads
        .iter()
        .any(|record| record.request.id.as_str() == id)
        || durable
            .events
            .iter()
            .any(|event| event.upload_id.as_str() == id)
}

impl Checker {
    pub fn new() -> Checker {
        Checker {
            trace_hash: FNV_OFFSET,
            ..Checker::default()
        }
    }

    fn violation(&mut self, text: String) {
        if self.violations.len() < 20 {
            self.violations.push(text);
        }
    }

    /// The engine called the app's callback with `event`; `durable` is the
    /// store's durable state at that instant.
    pub fn delivered(&mut self, event: &Event, durable: &Recovered) {
        self.events_delivered += 1;
        if let Event::Terminal(terminal) = event {
            if !durable.events.contains(terminal) {
                self.violation(format!(
                    "invariant 7 (write-ahead): event {} for {} reached the app before it was durable",
                    terminal.event_id, terminal.upload_id
                ));
            }
            if self.acknowledged.contains(&terminal.event_id) {
                self.violation(format!(
                    "invariant 2: event {} delivered after its acknowledgement was confirmed",
                    terminal.event_id
                ));
            }
        }
    }

    /// The app looked at `event` (it may have been lost in a kill before).
    pub fn consumed(&mut self, event: &Event, server: &ServerLog, file: Option<&[u8]>) {
        self.events_consumed += 1;
        self.trace_hash = fnv1a(self.trace_hash, format!("{event:?}").as_bytes());
        match event {
            Event::Progress {
                upload_id,
                progress,
            } => {
                if *progress > 100 {
                    self.violation(format!("progress {progress} > 100 for {upload_id}"));
                }
                if self.terminal_of_upload.contains_key(upload_id.as_str()) {
                    self.violation(format!(
                        "invariant 5: UPLOADING for {upload_id} after its terminal event"
                    ));
                }
            }
            Event::Terminal(terminal) => {
                let id = terminal.upload_id.as_str().to_owned();
                if let Some(seen) = self.terminal.get(&terminal.event_id) {
                    if seen != terminal {
                        self.violation(format!(
                            "invariant 3: event {} re-delivered differently: {seen:?} then {terminal:?}",
                            terminal.event_id
                        ));
                    }
                } else {
                    if let Some(other) = self.terminal_of_upload.get(&id) {
                        self.violation(format!(
                            "invariant 1: upload {id} ended twice (events {other} and {})",
                            terminal.event_id
                        ));
                    }
                    self.terminal.insert(terminal.event_id, terminal.clone());
                }
                self.terminal_of_upload
                    .insert(id.clone(), terminal.event_id);
                if !self.acknowledged.contains(&terminal.event_id) {
                    self.unacknowledged.insert(terminal.event_id);
                }
                if let Outcome::Uploaded { .. } = terminal.outcome {
                    let whole = server.receptions.iter().any(|reception| {
                        reception.upload_id == id
                            && reception.answered
                            && Some(reception.file.as_ref()) == file
                    });
                    if !whole {
                        self.violation(format!(
                            "invariant 6: {id} UPLOADED but the server never answered a request with the whole file"
                        ));
                    }
                }
            }
            Event::Rejected(_) => {}
        }
    }

    /// `startUpload` of `id` returned Ok; `durable` is the store now.
    pub fn accepted(&mut self, id: &str, durable: &Recovered) {
        if !is_stored(durable, id) {
            self.violation(format!(
                "invariant 7: startUpload of {id} returned before the upload was durable"
            ));
        }
        // An id is free again once its event was acknowledged: this is a
        // new upload under the old id.
        self.terminal_of_upload.remove(id);
        self.accepted.insert(id.to_owned());
    }

    /// `acknowledgeEvent` returned Ok; `durable` is the store now.
    pub fn acknowledged(&mut self, event_id: EventId, durable: &Recovered) {
        if durable
            .events
            .iter()
            .any(|event| event.event_id == event_id)
        {
            self.violation(format!(
                "acknowledgement of {event_id} confirmed before its deletion was durable"
            ));
        }
        self.acknowledged.insert(event_id);
        self.unacknowledged.remove(&event_id);
    }

    /// `startUpload` of `id` failed with the store: the upload may have
    /// been stored all the same. If the id was free (its last event
    /// acknowledged), a new upload under it may now run and end.
    pub fn start_unknown(&mut self, id: &str) {
        let free = self
            .terminal_of_upload
            .get(id)
            .is_some_and(|event_id| self.acknowledged.contains(event_id));
        if free {
            // The earlier upload under this id ended; a new one, if the
            // store kept it, is expected of nobody (but must end once).
            self.terminal_of_upload.remove(id);
            self.accepted.remove(id);
        }
    }

    /// `acknowledgeEvent` failed with the store: the event may be gone or
    /// not, so a kill may lose it; if it is still there, it comes again.
    pub fn acknowledgement_unknown(&mut self, event_id: EventId) {
        self.unacknowledged.remove(&event_id);
    }

    /// After a kill: nothing the app was told may be missing from disk.
    pub fn after_kill(&mut self, durable: &Recovered) {
        let stored_events: BTreeSet<EventId> =
            durable.events.iter().map(|event| event.event_id).collect();
        let lost: Vec<EventId> = self
            .unacknowledged
            .iter()
            .filter(|event_id| !stored_events.contains(event_id))
            .copied()
            .collect();
        for event_id in lost {
            self.violation(format!(
                "invariant 7: event {event_id} was delivered, not acknowledged, and lost by a kill"
            ));
        }
        let accepted: Vec<String> = self.accepted.iter().cloned().collect();
        for id in accepted {
            let ended = self.terminal_of_upload.contains_key(&id);
            if !ended && !is_stored(durable, &id) {
                self.violation(format!("invariant 7: accepted upload {id} lost by a kill"));
            }
        }
    }

    /// Server-side check: no wrong bytes ever reached the server for a
    /// known upload (a request that parsed must carry the exact file).
    pub fn server(&mut self, server: &ServerLog, expected: impl Fn(&str) -> Option<Vec<u8>>) {
        for reception in &server.receptions {
            if let Some(file) = expected(&reception.upload_id)
                && reception.file.as_ref() != file.as_slice()
            {
                self.violation(format!(
                    "invariant 6: the server received wrong bytes for {} ({} bytes, expected {})",
                    reception.upload_id,
                    reception.file.len(),
                    file.len()
                ));
            }
        }
        // With keys, one logical reception per upload (one start of one
        // id): a retry that carried another key would be stored again.
        let mut stored_per_upload: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for reception in server.receptions.iter().filter(|r| r.stored) {
            if let Some(key) = &reception.key {
                let upload = (reception.upload_id.as_str(), reception.start.as_str());
                let copies = stored_per_upload.entry(upload).or_default();
                *copies += 1;
                if *copies == 2 {
                    self.violation(format!(
                        "idempotency: the server stored upload {} twice (the second under key {key})",
                        reception.upload_id
                    ));
                }
            }
        }
        for malformed in &server.malformed {
            self.violation(format!("malformed request body: {malformed}"));
        }
    }

    /// Liveness: every accepted upload ended; everything was acknowledged.
    pub fn finished(&self, durable: &Recovered) -> bool {
        self.accepted
            .iter()
            .all(|id| self.terminal_of_upload.contains_key(id))
            && durable.uploads.is_empty()
            && durable.events.is_empty()
    }

    pub fn liveness_failures(&self, durable: &Recovered) -> Vec<String> {
        let mut failures = Vec::new();
        for id in &self.accepted {
            if !self.terminal_of_upload.contains_key(id) {
                failures.push(format!(
                    "liveness: accepted upload {id} never reached a terminal event"
                ));
            }
        }
        if !durable.uploads.is_empty() || !durable.events.is_empty() {
            failures.push(format!(
                "liveness: {} uploads and {} events still stored at the end",
                durable.uploads.len(),
                durable.events.len()
            ));
        }
        failures
    }
}
