//! `record_decode`: arbitrary keys and values, as a damaged or foreign store
//! would hand them back, into the persistence codec.
//!
//! Checked:
//! - `decode_record` never panics, for every keyspace; a failure is a
//!   `StoreError::Decode` naming the keyspace, with the key shown in at
//!   most 80 characters (plus an ellipsis);
//! - whatever decodes re-encodes (`encode_change`, `encode_value`,
//!   `encode_legacy_upload_v0`) under the same keyspace and key, to bytes
//!   that decode to the same record, and re-encoding is a fixpoint;
//! - the records as a store image (one value per key, keys in order per
//!   keyspace, as `FjallStore::load` feeds them) go through `Loader`, which
//!   fails exactly when a record does not decode or the store format is
//!   newer (or, at `finish`, when the records do not fit together);
//! - a store image that loads is one the machine can start from: it is
//!   recovered, driven until every upload ended and every event was
//!   acknowledged (each batch it hands out must be encodable, or the real
//!   store would fail and stop the engine), without a panic.

use crate::seed::{Blob, fuzz_struct};
use bgupload_fsm::{
    AttemptReport, Change, CommandId, Config, Effect, Event, Input, Machine, Options, Time,
    TransferOwnership, TransferReport, UploadState,
};
use bgupload_persistence::codec::{
    self, FORMAT_KEY, Loader, Record, STORE_FORMAT, decode_record, encode_change, encode_value,
};
use bgupload_persistence::{LegacyUploadV0, Space, StoreError};
use std::collections::BTreeMap;

/// Longest key rendering in an error message, ellipsis included.
const MAX_SHOWN_KEY_CHARS: usize = 81;
/// Rounds of driving a recovered machine at most.
const MAX_ROUNDS: usize = 10_000;

fuzz_struct! {
    /// Stored records, in the order a store returned them (duplicates and
    /// any order allowed; the store image keeps the last value per key).
    pub struct StoreImage {
        pub seed: u64,
        pub os_owned: bool,
        pub records: Vec<RawRecord>,
    }
}

fuzz_struct! {
    pub struct RawRecord {
        /// `Space::ALL[space % 3]`: uploads, events, meta.
        pub space: u8,
        pub key: Blob,
        pub value: Blob,
    }
}

pub fn space_of(space: u8) -> Space {
    Space::ALL[usize::from(space % 3)]
}

pub fn run(image: &StoreImage) {
    for record in &image.records {
        check_one(space_of(record.space), &record.key.0, &record.value.0);
    }
    // One value per key, keys in byte order per keyspace; fjall keys are
    // never empty.
    let mut stored: BTreeMap<(Space, Vec<u8>), Vec<u8>> = BTreeMap::new();
    for record in &image.records {
        if !record.key.0.is_empty() {
            stored.insert(
                (space_of(record.space), record.key.0.clone()),
                record.value.0.clone(),
            );
        }
    }
    let mut loader = Loader::new();
    for ((space, key), value) in &stored {
        let decoded = decode_record(*space, key, value);
        let should_load = match &decoded {
            Ok(Record::Format(found)) => *found <= STORE_FORMAT,
            Ok(_) => true,
            Err(_) => false,
        };
        let pushed = loader.push(*space, key, value);
        assert_eq!(
            pushed.is_ok(),
            should_load,
            "Loader and decode_record disagree on {space:?} {key:?}: {pushed:?} vs {decoded:?}"
        );
        if pushed.is_err() {
            // The load fails as a whole: the engine does not start.
            return;
        }
    }
    let mut options = Options::new(image.seed);
    if image.os_owned {
        options.ownership = TransferOwnership::Os;
    }
    // Records that decode one by one may still not fit together (more
    // uploads than event ids left): the load fails as a whole.
    let Ok(recovered) = loader.finish() else {
        return;
    };
    drive_to_quiet(Machine::recover(options, recovered, Time::ZERO));
}

/// One key and value through `decode_record`, and back.
pub fn check_one(space: Space, key: &[u8], value: &[u8]) {
    let record = match decode_record(space, key, value) {
        Ok(record) => record,
        Err(StoreError::Decode {
            keyspace,
            key: shown,
            ..
        }) => {
            assert_eq!(keyspace, space.name());
            assert!(
                shown.chars().count() <= MAX_SHOWN_KEY_CHARS,
                "key shown in {} characters",
                shown.chars().count()
            );
            return;
        }
        Err(other) => panic!("decode_record failed with a non-decode error: {other:?}"),
    };
    let (again_space, again_key, again_value) = reencode(space, key, value, &record);
    assert_eq!(again_space, space, "re-encoded into another keyspace");
    assert_eq!(again_key, key, "re-encoded under another key");
    let again = decode_record(again_space, &again_key, &again_value)
        .unwrap_or_else(|error| panic!("a re-encoded {record:?} does not decode: {error}"));
    assert_eq!(again, record, "a re-encoded record decodes differently");
    let (_, _, twice) = reencode(space, &again_key, &again_value, &again);
    assert_eq!(twice, again_value, "re-encoding is not a fixpoint");
}

fn reencode(space: Space, key: &[u8], value: &[u8], record: &Record) -> (Space, Vec<u8>, Vec<u8>) {
    let change = match record {
        Record::Upload(upload) => Change::PutUpload(upload.clone()),
        Record::Event(event) => Change::PutEvent(event.clone()),
        Record::Meta(meta) => Change::PutMeta(*meta),
        Record::Format(format) => {
            let bytes = encode_value("store format", format)
                .unwrap_or_else(|error| panic!("store format {format} does not encode: {error}"));
            return (Space::Meta, FORMAT_KEY.to_vec(), bytes);
        }
        Record::Legacy(_) => {
            // The decoded record keeps only the id; re-encode the whole
            // previous-format record.
            let legacy: LegacyUploadV0 =
                postcard::from_bytes(&value[1..]).expect("it decoded once");
            let bytes = codec::encode_legacy_upload_v0(&legacy)
                .unwrap_or_else(|error| panic!("{legacy:?} does not encode: {error}"));
            return (space, key.to_vec(), bytes);
        }
    };
    let op = encode_change(&change)
        .unwrap_or_else(|error| panic!("a record that decodes does not encode: {error}"));
    let value = op.value.expect("a put has a value");
    (op.space, op.key, value)
}

/// Runs a recovered machine as a driver would, with a store that always
/// syncs, a server that answers 200 at once and an app that acknowledges
/// every event, until nothing is left.
fn drive_to_quiet(mut machine: Machine) {
    let mut now = Time::ZERO;
    let mut next_command = 1;
    machine.handle_input(
        now,
        Input::Init {
            command: CommandId(0),
            config: Config::default(),
        },
    );
    // A stored upload may be paused: the app resumes it.
    let paused: Vec<String> = machine
        .uploads()
        .iter()
        .filter(|status| status.state == UploadState::Paused)
        .map(|status| status.request.id.as_str().to_owned())
        .collect();
    for upload_id in paused {
        machine.handle_input(
            now,
            Input::ResumeUpload {
                command: CommandId(next_command),
                upload_id,
            },
        );
        next_command += 1;
    }
    for _ in 0..MAX_ROUNDS {
        let mut inputs = Vec::new();
        while let Some(effect) = machine.poll_effect() {
            match effect {
                Effect::PersistBatch(batch) => {
                    for change in &batch.changes {
                        if let Err(error) = encode_change(change) {
                            panic!(
                                "the machine recovered from a loadable store asks for a write \
                                 the store cannot encode ({error}): {change:?}"
                            );
                        }
                    }
                    inputs.push(Input::Durable { through: batch.id });
                }
                Effect::StartAttempt { request, attempt } => {
                    inputs.push(Input::Transfer(AttemptReport {
                        upload_id: request.id,
                        attempt,
                        report: TransferReport::Response {
                            status: 200,
                            body: b"ok".to_vec(),
                            truncated: false,
                            retry_after_millis: None,
                        },
                    }))
                }
                Effect::Deliver(Event::Terminal(event)) => {
                    inputs.push(Input::AcknowledgeEvent {
                        command: CommandId(next_command),
                        event_id: event.event_id,
                    });
                    next_command += 1;
                }
                Effect::Deliver(_)
                | Effect::CancelAttempt { .. }
                | Effect::CommandDone { .. }
                | Effect::Attach { .. }
                | Effect::Detach => {}
            }
        }
        if inputs.is_empty() {
            if machine.upload_count() == 0 && machine.unacknowledged_events().next().is_none() {
                return;
            }
            let Some(deadline) = machine.poll_timeout() else {
                panic!(
                    "liveness: {} uploads and {} events left, nothing to wait for",
                    machine.upload_count(),
                    machine.unacknowledged_events().count()
                );
            };
            now = now.max(deadline);
            machine.handle_input(now, Input::Timeout);
            continue;
        }
        for input in inputs {
            machine.handle_input(now, input);
        }
    }
    panic!(
        "liveness: {} uploads and {} events left after {MAX_ROUNDS} rounds",
        machine.upload_count(),
        machine.unacknowledged_events().count()
    );
}
