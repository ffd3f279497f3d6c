//! How [`Change`]s become keys and values, and how stored keys and values
//! become a [`Recovered`] state again. Shared by every store, so a codec bug
//! shows up in the simulator as well as on disk.
//!
//! Layout (one keyspace per [`Space`]):
//! - `uploads`: key = the upload id's UTF-8 bytes; value = version byte 2 +
//!   postcard [`UploadRecord`]; or version byte 1 + postcard
//!   [`UploadRecordV1`] (before queue control, read as today's record);
//!   or version byte 0 + postcard [`LegacyUploadV0`] (the first format,
//!   migrated on load to a FAILED 500 event).
//! - `events`: key = the event id as a big-endian `u64` (key order is
//!   delivery order); value = version byte 2 (or 1: the same encoding,
//!   [`bgupload_fsm::Outcome`] only gained a last variant) + postcard
//!   [`TerminalEvent`].
//! - `meta`: key [`META_KEY`] = version byte 2 + postcard [`Meta`] (or 1 +
//!   [`MetaV1`]); key [`FORMAT_KEY`] = version byte 2 (or 1) + postcard
//!   `u32` store format.
//!
//! Decoding is strict: an unknown version byte, damaged bytes, trailing
//! bytes, a record whose id does not match its key, or an unknown meta key
//! is a [`StoreError::Decode`] naming the keyspace and the key.

use crate::error::StoreError;
use crate::record_v1::{MetaV1, UploadRecordV1};
use bgupload_fsm::{
    Batch, Change, EventId, LegacyUpload, Meta, Recovered, TerminalEvent, UploadId, UploadRecord,
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::fmt::Write as _;

/// Version byte of every record this build writes.
pub const RECORD_VERSION: u8 = 2;
/// Version byte of the records before queue control (read, never written).
pub const V1_RECORD_VERSION: u8 = 1;
/// Version byte of the previous format's upload record ([`LegacyUploadV0`]).
pub const LEGACY_RECORD_VERSION: u8 = 0;
/// Store format written under [`FORMAT_KEY`]. Format 0 is a store from
/// before the format key (it may hold [`LegacyUploadV0`] records).
pub const STORE_FORMAT: u32 = 1;
/// Key of the [`Meta`] record in the `meta` keyspace.
pub const META_KEY: &[u8] = b"meta";
/// Key of the store format in the `meta` keyspace.
pub const FORMAT_KEY: &[u8] = b"format";
/// Longest key written (fjall allows 64 KiB; upload ids are far shorter).
pub const MAX_KEY_BYTES: usize = 1_024;
/// Largest value written or read (an upload record is bounded by the
/// machine's limits to about 1.1 MiB).
pub const MAX_VALUE_BYTES: usize = 16 * 1_024 * 1_024;
/// Length of an `events` key.
pub const EVENT_KEY_BYTES: usize = 8;
/// Longest rendering of a key in an error message.
const MAX_SHOWN_KEY_CHARS: usize = 80;

/// One keyspace of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Space {
    Uploads,
    Events,
    Meta,
}

impl Space {
    pub const ALL: [Space; 3] = [Space::Uploads, Space::Events, Space::Meta];

    /// The keyspace's name on disk.
    pub const fn name(self) -> &'static str {
        match self {
            Space::Uploads => "uploads",
            Space::Events => "events",
            Space::Meta => "meta",
        }
    }
}

/// One encoded write: put `value` under `key`, or delete `key` when `value`
/// is `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    pub space: Space,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// An upload record of the previous storage format (version byte 0), kept
/// in `uploads` under its id. Loading turns it into a
/// [`LegacyUpload`]; the machine fails it with `errorCode` 500 and deletes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyUploadV0 {
    pub id: String,
    pub file_path: String,
    pub server_url: String,
}

/// A decoded stored record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    Upload(UploadRecord),
    Legacy(LegacyUpload),
    Event(TerminalEvent),
    Meta(Meta),
    Format(u32),
}

/// The key of an upload.
pub fn upload_key(id: &UploadId) -> Vec<u8> {
    id.as_str().as_bytes().to_vec()
}

/// The key of an event: big-endian, so key order is event id order.
pub fn event_key(id: EventId) -> Vec<u8> {
    id.0.to_be_bytes().to_vec()
}

/// `value` behind the current version byte.
pub fn encode_value<T: Serialize>(what: &str, value: &T) -> Result<Vec<u8>, StoreError> {
    versioned(what, RECORD_VERSION, value)
}

/// The value of [`FORMAT_KEY`] for [`STORE_FORMAT`].
pub fn encode_format() -> Result<Vec<u8>, StoreError> {
    encode_value("store format", &STORE_FORMAT)
}

/// A previous-format upload record, as the old engine wrote it (for
/// migration tests and fuzzing).
pub fn encode_legacy_upload_v0(record: &LegacyUploadV0) -> Result<Vec<u8>, StoreError> {
    versioned("legacy upload", LEGACY_RECORD_VERSION, record)
}

fn versioned<T: Serialize>(what: &str, version: u8, value: &T) -> Result<Vec<u8>, StoreError> {
    let bytes = postcard::to_extend(value, vec![version]).map_err(|error| StoreError::Encode {
        what: what.to_owned(),
        reason: error.to_string(),
    })?;
    if bytes.len() > MAX_VALUE_BYTES {
        return Err(StoreError::Encode {
            what: what.to_owned(),
            reason: format!("{} bytes, over the limit of {MAX_VALUE_BYTES}", bytes.len()),
        });
    }
    Ok(bytes)
}

fn checked_key(what: &str, key: Vec<u8>) -> Result<Vec<u8>, StoreError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(StoreError::Encode {
            what: what.to_owned(),
            reason: format!("key of {} bytes (allowed 1..={MAX_KEY_BYTES})", key.len()),
        });
    }
    Ok(key)
}

/// Longest key fjall stores (its keys are at most `u16::MAX` bytes).
pub const MAX_STORED_KEY_BYTES: usize = u16::MAX as usize;

/// A deletion may name a key longer than this format writes: records of an
/// older format are deleted by the key they were stored under.
fn checked_deletion_key(key: Vec<u8>) -> Result<Vec<u8>, StoreError> {
    if key.is_empty() || key.len() > MAX_STORED_KEY_BYTES {
        return Err(StoreError::Encode {
            what: "upload deletion".to_owned(),
            reason: format!(
                "key of {} bytes (allowed 1..={MAX_STORED_KEY_BYTES})",
                key.len()
            ),
        });
    }
    Ok(key)
}

/// One change as one write.
pub fn encode_change(change: &Change) -> Result<Op, StoreError> {
    // Never write what `decode_record` would refuse at the next start.
    let refuse = |what: &str, reason: String| StoreError::Encode {
        what: what.to_owned(),
        reason,
    };
    match change {
        Change::PutUpload(record) => record.check().map_err(|r| refuse("upload", r))?,
        Change::PutEvent(event) => {
            bgupload_fsm::check_event(event).map_err(|r| refuse("event", r))?;
        }
        Change::PutMeta(meta) => meta.check().map_err(|r| refuse("meta", r))?,
        Change::DeleteUpload(_) | Change::DeleteEvent(_) => {}
    }
    Ok(match change {
        Change::PutUpload(record) => Op {
            space: Space::Uploads,
            key: checked_key("upload", upload_key(&record.request.id))?,
            value: Some(encode_value("upload", record)?),
        },
        Change::DeleteUpload(id) => Op {
            space: Space::Uploads,
            key: checked_deletion_key(upload_key(id))?,
            value: None,
        },
        Change::PutEvent(event) => Op {
            space: Space::Events,
            key: event_key(event.event_id),
            value: Some(encode_value("event", event)?),
        },
        Change::DeleteEvent(id) => Op {
            space: Space::Events,
            key: event_key(*id),
            value: None,
        },
        Change::PutMeta(meta) => Op {
            space: Space::Meta,
            key: META_KEY.to_vec(),
            value: Some(encode_value("meta", meta)?),
        },
    })
}

/// Every change of `batches`, in order. Fails as a whole: nothing is
/// written when one change cannot be encoded.
pub fn encode_batches(batches: &[Batch]) -> Result<Vec<Op>, StoreError> {
    batches
        .iter()
        .flat_map(|batch| batch.changes.iter())
        .map(encode_change)
        .collect()
}

/// A key as it appears in error messages: an event id as a number, text as
/// quoted text, anything else as hex; cut to a bounded length.
pub fn show_key(space: Space, key: &[u8]) -> String {
    let shown = match (space, <[u8; EVENT_KEY_BYTES]>::try_from(key)) {
        (Space::Events, Ok(bytes)) => u64::from_be_bytes(bytes).to_string(),
        _ => match std::str::from_utf8(key) {
            Ok(text) => format!("{text:?}"),
            Err(_) => key.iter().fold(String::from("0x"), |mut hex, byte| {
                let _ = write!(hex, "{byte:02x}");
                hex
            }),
        },
    };
    if shown.chars().count() > MAX_SHOWN_KEY_CHARS {
        let cut: String = shown.chars().take(MAX_SHOWN_KEY_CHARS).collect();
        format!("{cut}…")
    } else {
        shown
    }
}

/// Decodes one stored key and value.
pub fn decode_record(space: Space, key: &[u8], value: &[u8]) -> Result<Record, StoreError> {
    let fail = |reason: String| StoreError::Decode {
        keyspace: space.name(),
        key: show_key(space, key),
        reason,
    };
    if value.len() > MAX_VALUE_BYTES {
        return Err(fail(format!(
            "value of {} bytes, over the limit of {MAX_VALUE_BYTES}",
            value.len()
        )));
    }
    let Some((&version, body)) = value.split_first() else {
        return Err(fail("empty value (no version byte)".to_owned()));
    };
    match (space, version) {
        (Space::Uploads, RECORD_VERSION | V1_RECORD_VERSION) => {
            let record: UploadRecord = match version {
                RECORD_VERSION => body_of(body).map_err(fail)?,
                _ => body_of::<UploadRecordV1>(body).map_err(fail)?.into(),
            };
            if record.request.id.as_str().as_bytes() != key {
                return Err(fail(format!(
                    "record holds upload id {:?}, not its key",
                    record.request.id.as_str()
                )));
            }
            record.check().map_err(fail)?;
            Ok(Record::Upload(record))
        }
        (Space::Uploads, LEGACY_RECORD_VERSION) => {
            let record: LegacyUploadV0 = body_of(body).map_err(fail)?;
            if record.id.as_bytes() != key {
                return Err(fail(format!(
                    "legacy record holds upload id {:?}, not its key",
                    record.id
                )));
            }
            Ok(Record::Legacy(LegacyUpload { id: record.id }))
        }
        (Space::Events, RECORD_VERSION | V1_RECORD_VERSION) => {
            let Ok(key_bytes) = <[u8; EVENT_KEY_BYTES]>::try_from(key) else {
                return Err(fail(format!(
                    "event key of {} bytes, not {EVENT_KEY_BYTES}",
                    key.len()
                )));
            };
            let event: TerminalEvent = body_of(body).map_err(fail)?;
            if event.event_id.0 != u64::from_be_bytes(key_bytes) {
                return Err(fail(format!(
                    "record holds event id {}, not its key",
                    event.event_id
                )));
            }
            bgupload_fsm::check_event(&event).map_err(fail)?;
            Ok(Record::Event(event))
        }
        (Space::Meta, RECORD_VERSION | V1_RECORD_VERSION) if key == META_KEY => {
            let meta: Meta = match version {
                RECORD_VERSION => body_of(body).map_err(fail)?,
                _ => body_of::<MetaV1>(body).map_err(fail)?.into(),
            };
            meta.check().map_err(fail)?;
            Ok(Record::Meta(meta))
        }
        (Space::Meta, RECORD_VERSION | V1_RECORD_VERSION) if key == FORMAT_KEY => {
            Ok(Record::Format(body_of(body).map_err(fail)?))
        }
        (Space::Meta, RECORD_VERSION | V1_RECORD_VERSION) => {
            Err(fail("unknown meta key".to_owned()))
        }
        (_, version) => Err(fail(format!(
            "unknown record version {version} (this build reads {})",
            if space == Space::Uploads {
                "0, 1 and 2"
            } else {
                "1 and 2"
            }
        ))),
    }
}

fn body_of<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    match postcard::take_from_bytes::<T>(body) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(format!("{} trailing bytes after the record", rest.len())),
        Err(error) => Err(format!("damaged record: {error}")),
    }
}

/// Builds a [`Recovered`] state from stored records, fed in key order per
/// keyspace.
#[derive(Debug, Default)]
pub struct Loader {
    recovered: Recovered,
}

impl Loader {
    pub fn new() -> Loader {
        Loader::default()
    }

    /// Decodes and takes one stored record.
    pub fn push(&mut self, space: Space, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        match decode_record(space, key, value)? {
            Record::Upload(record) => self.recovered.uploads.push(record),
            Record::Legacy(legacy) => self.recovered.legacy_uploads.push(legacy),
            Record::Event(event) => self.recovered.events.push(event),
            Record::Meta(meta) => self.recovered.meta = Some(meta),
            Record::Format(found) => check_format(found)?,
        }
        Ok(())
    }

    /// The state, once the records fit together ([`Recovered::check`]; each
    /// record was checked by [`decode_record`] in [`Loader::push`]).
    pub fn finish(self) -> Result<Recovered, StoreError> {
        self.recovered
            .check_event_ids_left()
            .map_err(|reason| StoreError::Inconsistent { reason })?;
        Ok(self.recovered)
    }
}

/// Refuses a store written by a newer build.
pub fn check_format(found: u32) -> Result<(), StoreError> {
    if found > STORE_FORMAT {
        return Err(StoreError::UnsupportedFormat {
            found,
            supported: STORE_FORMAT,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgupload_fsm::{Attempt, BodyFormat, Config, Method, Outcome, UploadRequest};

    fn upload(id: &str) -> UploadRecord {
        UploadRecord {
            request: UploadRequest {
                id: UploadId::parse(id).unwrap(),
                file_path: "/data/ünïcode file.bin".into(),
                file_key: "file".into(),
                server_url: "https://example.invalid/up".into(),
                headers: vec![("Authorization".into(), "Bearer x".into())],
                parameters: vec![("a".into(), "1".into()), ("b".into(), String::new())],
                notification_title: "Uploading files".into(),
                method: Method::Put,
                body_format: BodyFormat::Raw,
                status_policy: bgupload_fsm::StatusPolicy::Any,
                idempotency_key: None,
                network: bgupload_fsm::NetworkRequirement::Any,
            },
            sequence: 7,
            last_attempt: Some(Attempt(3)),
            in_flight: true,
            counted_failures: 2,
            paused: false,
            file_size: 0,
        }
    }

    const ID: &str = "6f1c2a8e-3b4d-4c5e-9f60-718293a4b5c6";

    fn event(id: u64, outcome: Outcome) -> TerminalEvent {
        TerminalEvent {
            event_id: EventId(id),
            upload_id: UploadId::parse(ID).unwrap(),
            outcome,
        }
    }

    fn roundtrip(change: Change) -> Record {
        let op = encode_change(&change).unwrap();
        assert_eq!(op.value.as_ref().unwrap()[0], RECORD_VERSION);
        decode_record(op.space, &op.key, op.value.as_ref().unwrap()).unwrap()
    }

    #[test]
    fn upload_round_trips() {
        let record = upload(ID);
        assert_eq!(
            roundtrip(Change::PutUpload(record.clone())),
            Record::Upload(record)
        );
    }

    #[test]
    fn events_round_trip_with_big_endian_keys() {
        for (id, outcome) in [
            (
                1,
                Outcome::Uploaded {
                    status_code: 201,
                    server_response: "{\"ok\":true}".into(),
                    response_truncated: false,
                },
            ),
            (
                EventId::MAX.0,
                Outcome::Failed {
                    error: "Upload cancelled".into(),
                    error_code: -999,
                },
            ),
        ] {
            let original = event(id, outcome);
            let op = encode_change(&Change::PutEvent(original.clone())).unwrap();
            assert_eq!(op.key, id.to_be_bytes());
            assert_eq!(
                roundtrip(Change::PutEvent(original.clone())),
                Record::Event(original)
            );
        }
        assert!(event_key(EventId(255)) < event_key(EventId(256)));
    }

    #[test]
    fn meta_and_format_round_trip() {
        let meta = Meta {
            next_event_id: 42,
            config: Config::default(),
        };
        assert_eq!(roundtrip(Change::PutMeta(meta)), Record::Meta(meta));
        let format = encode_format().unwrap();
        assert_eq!(
            decode_record(Space::Meta, FORMAT_KEY, &format).unwrap(),
            Record::Format(STORE_FORMAT)
        );
    }

    #[test]
    fn deletions_have_no_value() {
        let id = UploadId::parse(ID).unwrap();
        let op = encode_change(&Change::DeleteUpload(id)).unwrap();
        assert_eq!(
            (op.space, op.key.as_slice(), op.value),
            (Space::Uploads, ID.as_bytes(), None)
        );
        let op = encode_change(&Change::DeleteEvent(EventId(9))).unwrap();
        assert_eq!(
            (op.space, op.key, op.value),
            (Space::Events, 9u64.to_be_bytes().to_vec(), None)
        );
    }

    #[test]
    fn legacy_record_decodes_as_legacy_upload() {
        let legacy = LegacyUploadV0 {
            id: "old-id-1".into(),
            file_path: "/f".into(),
            server_url: "http://x".into(),
        };
        let bytes = encode_legacy_upload_v0(&legacy).unwrap();
        assert_eq!(bytes[0], LEGACY_RECORD_VERSION);
        assert_eq!(
            decode_record(Space::Uploads, b"old-id-1", &bytes).unwrap(),
            Record::Legacy(LegacyUpload {
                id: "old-id-1".into()
            })
        );
    }

    fn decode_error(space: Space, key: &[u8], value: &[u8]) -> (String, String, String) {
        match decode_record(space, key, value) {
            Err(StoreError::Decode {
                keyspace,
                key,
                reason,
            }) => (keyspace.to_owned(), key, reason),
            other => panic!("expected a decode error, got {other:?}"),
        }
    }

    #[test]
    fn unknown_version_names_keyspace_and_key() {
        let mut bytes = encode_value("upload", &upload(ID)).unwrap();
        bytes[0] = 9;
        let (space, key, reason) = decode_error(Space::Uploads, ID.as_bytes(), &bytes);
        assert_eq!(space, "uploads");
        assert_eq!(key, format!("{ID:?}"));
        assert!(reason.contains("unknown record version 9"), "{reason}");
        let error = decode_record(Space::Uploads, ID.as_bytes(), &bytes).unwrap_err();
        assert!(error.to_string().contains(ID), "{error}");
        // Version 0 exists only for uploads.
        let (_, key, reason) = decode_error(Space::Events, &5u64.to_be_bytes(), &[0, 1, 2]);
        assert_eq!(key, "5");
        assert!(reason.contains("unknown record version 0"), "{reason}");
    }

    #[test]
    fn version_1_records_read_as_todays_with_the_behaviour_they_had() {
        use crate::record_v1::{ConfigV1, UploadRequestV1};
        let today = upload(ID);
        let old = UploadRecordV1 {
            request: UploadRequestV1 {
                id: today.request.id.clone(),
                file_path: today.request.file_path.clone(),
                file_key: today.request.file_key.clone(),
                server_url: today.request.server_url.clone(),
                headers: today.request.headers.clone(),
                parameters: today.request.parameters.clone(),
                notification_title: today.request.notification_title.clone(),
                method: today.request.method,
                body_format: today.request.body_format,
            },
            sequence: today.sequence,
            last_attempt: today.last_attempt,
            in_flight: today.in_flight,
            counted_failures: today.counted_failures,
        };
        let bytes = versioned("upload", V1_RECORD_VERSION, &old).unwrap();
        let decoded = decode_record(Space::Uploads, ID.as_bytes(), &bytes).unwrap();
        assert_eq!(decoded, Record::Upload(today));
        let config = Config {
            parallel_uploads_limit: 3,
            ..Config::default()
        };
        let old_meta = MetaV1 {
            next_event_id: 9,
            config: ConfigV1 {
                parallel_uploads_limit: 3,
                retry: config.retry,
                progress: config.progress,
            },
        };
        let bytes = versioned("meta", V1_RECORD_VERSION, &old_meta).unwrap();
        let decoded = decode_record(Space::Meta, META_KEY, &bytes).unwrap();
        assert_eq!(
            decoded,
            Record::Meta(Meta {
                next_event_id: 9,
                config
            })
        );
    }

    #[test]
    fn damaged_bytes_are_decode_errors() {
        let bytes = encode_value("upload", &upload(ID)).unwrap();
        // Cut short at every length: never a panic, always a decode error.
        for len in 0..bytes.len() {
            let (_, key, _) = decode_error(Space::Uploads, ID.as_bytes(), &bytes[..len]);
            assert_eq!(key, format!("{ID:?}"));
        }
        let mut long = bytes.clone();
        long.push(0);
        let (_, _, reason) = decode_error(Space::Uploads, ID.as_bytes(), &long);
        assert!(reason.contains("1 trailing bytes"), "{reason}");
        let (_, _, reason) = decode_error(Space::Uploads, ID.as_bytes(), &[]);
        assert!(reason.contains("empty value"), "{reason}");
    }

    #[test]
    fn key_must_match_record() {
        let other = "00000000-0000-4000-8000-000000000001";
        let bytes = encode_value("upload", &upload(ID)).unwrap();
        let (_, _, reason) = decode_error(Space::Uploads, other.as_bytes(), &bytes);
        assert!(reason.contains("not its key"), "{reason}");
        let bytes = encode_value(
            "event",
            &event(
                3,
                Outcome::Failed {
                    error: "x".into(),
                    error_code: 1,
                },
            ),
        )
        .unwrap();
        let (_, key, reason) = decode_error(Space::Events, &4u64.to_be_bytes(), &bytes);
        assert_eq!(key, "4");
        assert!(reason.contains("event id 3"), "{reason}");
        let (_, key, reason) = decode_error(Space::Events, &[0xff, 0x00], &bytes);
        assert_eq!(key, "0xff00");
        assert!(reason.contains("event key of 2 bytes"), "{reason}");
        let (_, key, reason) = decode_error(Space::Meta, b"other", &bytes);
        assert_eq!(key, "\"other\"");
        assert!(reason.contains("unknown meta key"), "{reason}");
    }

    #[test]
    fn newer_format_is_refused() {
        let bytes = encode_value("format", &(STORE_FORMAT + 1)).unwrap();
        let mut loader = Loader::new();
        assert!(matches!(
            loader.push(Space::Meta, FORMAT_KEY, &bytes),
            Err(StoreError::UnsupportedFormat { found, supported: STORE_FORMAT }) if found == STORE_FORMAT + 1
        ));
    }

    #[test]
    fn bad_keys_are_refused_before_writing() {
        // An older format's record is deleted by the (longer) key it had.
        let long = "x".repeat(MAX_KEY_BYTES + 1);
        let change = Change::DeleteUpload(UploadId::from_stored(&long));
        assert!(encode_change(&change).is_ok());
        let too_long = "x".repeat(MAX_STORED_KEY_BYTES + 1);
        let change = Change::DeleteUpload(UploadId::from_stored(&too_long));
        assert!(matches!(
            encode_change(&change),
            Err(StoreError::Encode { .. })
        ));
        let change = Change::DeleteUpload(UploadId::from_stored(""));
        assert!(matches!(
            encode_change(&change),
            Err(StoreError::Encode { .. })
        ));
    }

    #[test]
    fn records_the_machine_cannot_write_are_refused_both_ways() {
        // F2: event ids beyond JavaScript's exact integers, and counters
        // past the last id.
        for id in [0, EventId::MAX.0 + 1, u64::MAX] {
            let damaged = event(
                id,
                Outcome::Failed {
                    error: "x".into(),
                    error_code: -1,
                },
            );
            assert!(matches!(
                encode_change(&Change::PutEvent(damaged.clone())),
                Err(StoreError::Encode { .. })
            ));
            let value = encode_value("event", &damaged).unwrap();
            let (space, key, reason) = decode_error(Space::Events, &id.to_be_bytes(), &value);
            assert_eq!((space.as_str(), key), ("events", id.to_string()));
            assert!(reason.contains("outside 1..=9007199254740991"), "{reason}");
        }
        let meta = Meta {
            next_event_id: EventId::MAX.0 + 2,
            config: Config::default(),
        };
        assert!(encode_change(&Change::PutMeta(meta)).is_err());
        let value = encode_value("meta", &meta).unwrap();
        let (_, _, reason) = decode_error(Space::Meta, META_KEY, &value);
        assert!(reason.contains("next event id"), "{reason}");

        // F3: a current-format upload under a key longer than the encoder
        // writes (its id is no accepted id) is refused, not loaded.
        let mut long = upload("0b7e8f7c-4c55-4f4e-9c3c-5d1f2b6a9e01");
        long.request.id = UploadId::from_stored(&"a".repeat(MAX_KEY_BYTES + 1));
        assert!(encode_change(&Change::PutUpload(long.clone())).is_err());
        let value = encode_value("upload", &long).unwrap();
        let (_, _, reason) =
            decode_error(Space::Uploads, long.request.id.as_str().as_bytes(), &value);
        assert!(reason.contains("not one this engine accepts"), "{reason}");
    }

    #[test]
    fn long_keys_are_cut_in_messages() {
        let shown = show_key(Space::Uploads, "k".repeat(500).as_bytes());
        assert!(shown.chars().count() <= MAX_SHOWN_KEY_CHARS + 1);
    }
}
