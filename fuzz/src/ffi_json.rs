//! `ffi_json`: what a host can pass across the FFI boundary as JSON text,
//! into `bgupload_ffi::json`'s decoders (`upload_payload`, `config`,
//! `open_options`, `event_id`, `upload_id`, `local_path`).
//!
//! Checked:
//! - any text (raw bytes, read as UTF-8 lossily, as a JNI or Swift string
//!   arrives) gives `Ok` or an error, never a panic, and an error message
//!   stays short (at most [`MAX_MESSAGE_BYTES`]: hostile values are not
//!   echoed whole);
//! - a JSON object with the known field names and values of random types
//!   decodes or is refused, never panics; a payload that decodes kept a
//!   string `id` as given, and its `headers`/`parameters` in the given
//!   order (nulls left out, numbers and booleans as text); a field of the
//!   wrong type is refused naming that field; a number is sent as written
//!   (serde_json's `float_roundtrip`; found here as F6, fixed in 1edb564);
//! - a decoded configuration is checked by `validate::config` without a
//!   panic (the state machine, not the decoder, owns the value rules), and
//!   whatever it accepts it accepts again unchanged;
//! - every event id in range, bare or as a JSON string, names itself; other
//!   forms of the number name no event.

use crate::seed::{Blob, Text, fuzz_enum};
use bgupload_ffi::json;
use bgupload_fsm::EventId;
use serde_json::{Map, Number, Value};

/// Longest error message accepted from a decoder.
pub const MAX_MESSAGE_BYTES: usize = 512;
/// Nesting of generated JSON values at most.
const MAX_DEPTH: usize = 4;

/// Field names the payload and configuration decoders know.
const PAYLOAD_AND_CONFIG_FIELDS: [&str; 14] = [
    "id",
    "filePath",
    "fileKey",
    "serverUrl",
    "headers",
    "parameters",
    "notificationTitle",
    "requestMethod",
    "uploadType",
    "parallelUploadsLimit",
    "maxAttempts",
    "initialBackoffMillis",
    "maxBackoffMillis",
    "progressIntervalMillis",
];

/// Field names the decoders know (payload, configuration, and the `open`
/// options as `bgupload_ffi::json` lists them).
pub static FIELDS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    PAYLOAD_AND_CONFIG_FIELDS
        .into_iter()
        .chain(json::OPEN_OPTION_FIELDS)
        .collect()
});

fuzz_enum! {
    pub enum FfiJsonCase {
        /// Any text into every decoder.
        Text { text: Blob },
        /// A JSON object of known and unknown fields with values of any type.
        Object { fields: Vec<(FieldName, JsonInput)> },
        /// An event id in every accepted spelling.
        EventId { id: u64 },
    }
}

fuzz_enum! {
    pub enum FieldName {
        Known { index: u8 },
        Other { name: Text },
    }
}

fuzz_enum! {
    /// A JSON value; nesting deeper than a few levels reads as `null`.
    pub enum JsonInput {
        Null,
        Bool { value: bool },
        Unsigned { value: u64 },
        Signed { value: i64 },
        Float { value: f64 },
        Str { value: Text },
        Array { items: Vec<JsonInput> },
        Object { fields: Vec<(Text, JsonInput)> },
    }
}

impl crate::seed::SeedBytes for f64 {
    fn write_seed(&self, out: &mut Vec<u8>) {
        self.to_bits().write_seed(out);
    }
}

fn value_of(input: &JsonInput, depth: usize) -> Value {
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    match input {
        JsonInput::Null => Value::Null,
        JsonInput::Bool { value } => Value::Bool(*value),
        JsonInput::Unsigned { value } => Value::from(*value),
        JsonInput::Signed { value } => Value::from(*value),
        // NaN and infinities have no JSON form.
        JsonInput::Float { value } => Number::from_f64(*value).map_or(Value::Null, Value::Number),
        JsonInput::Str { value } => Value::String(value.0.clone()),
        JsonInput::Array { items } => {
            Value::Array(items.iter().map(|item| value_of(item, depth + 1)).collect())
        }
        JsonInput::Object { fields } => Value::Object(
            fields
                .iter()
                .map(|(name, value)| (name.0.clone(), value_of(value, depth + 1)))
                .collect(),
        ),
    }
}

fn name_of(name: &FieldName) -> String {
    match name {
        FieldName::Known { index } => FIELDS[usize::from(*index) % FIELDS.len()].to_owned(),
        FieldName::Other { name } => name.0.clone(),
    }
}

fn short(message: &str) {
    assert!(
        message.len() <= MAX_MESSAGE_BYTES,
        "an error message of {} bytes: {message:.200}",
        message.len()
    );
}

/// Every decoder on `text`: never a panic, short errors.
fn every_decoder(text: &str) {
    if let Err(error) = json::upload_payload(Some(text)) {
        short(&error.error);
        if let Some(id) = &error.id {
            assert!(!id.is_empty(), "an empty id echoed");
        }
    }
    match json::config(Some(text)) {
        Ok(config) => match bgupload_fsm::validate::config(config) {
            Ok(checked) => assert_eq!(
                bgupload_fsm::validate::config(checked),
                Ok(checked),
                "a checked configuration changes when checked again"
            ),
            Err(error) => short(&error),
        },
        Err(error) => short(&error.to_string()),
    }
    if let Err(error) = json::open_options(Some(text)) {
        short(&error.to_string());
    }
    if let Err(error) = json::event_id(Some(text)) {
        short(&error.to_string());
    }
    if let Err(error) = json::upload_id(Some(text)) {
        short(&error.to_string());
    }
    if let Err(message) = json::local_path(text) {
        short(&message);
    }
}

pub fn run(case: &FfiJsonCase) {
    match case {
        FfiJsonCase::Text { text } => every_decoder(&String::from_utf8_lossy(&text.0)),
        FfiJsonCase::Object { fields } => {
            // Later duplicates replace earlier ones in a JSON object's map;
            // keep the first of each name so the text has no duplicates.
            let mut object = Map::new();
            for (name, value) in fields {
                object
                    .entry(name_of(name))
                    .or_insert_with(|| value_of(value, 0));
            }
            let text = Value::Object(object.clone()).to_string();
            every_decoder(&text);
            check_payload(&object, &text);
        }
        FfiJsonCase::EventId { id } => {
            // The issued form, bare or as a JSON string, names the event;
            // any other form of the number names none (and is no error).
            let issued = (EventId::FIRST.0..=EventId::MAX.0)
                .contains(id)
                .then_some(EventId(*id));
            for text in [id.to_string(), format!("\"{id}\"")] {
                let decoded = json::event_id(Some(&text))
                    .unwrap_or_else(|error| panic!("event id {text:?} refused: {error}"));
                assert_eq!(decoded, issued, "event id {text:?}");
            }
            for text in [format!(" {id} "), format!("0{id}"), format!("{id}.0")] {
                let decoded = json::event_id(Some(&text))
                    .unwrap_or_else(|error| panic!("event id {text:?} refused: {error}"));
                assert_eq!(decoded, None, "event id {text:?}");
            }
        }
    }
}

/// What a decoded payload must have kept, or which field a refusal names.
fn check_payload(object: &Map<String, Value>, text: &str) {
    let decoded = json::upload_payload(Some(text));
    match object.get("id") {
        Some(Value::String(id)) => {
            if let Ok(payload) = &decoded {
                assert_eq!(payload.id.as_deref(), Some(id.as_str()), "id");
            }
        }
        Some(Value::Null) | None => {}
        Some(Value::Number(number)) => {
            if let Ok(payload) = &decoded {
                let text = number.to_string();
                assert_eq!(payload.id.as_deref(), Some(text.as_str()), "a number id");
            }
        }
        Some(_) => {
            let error = decoded.as_ref().expect_err("a non-string id decoded");
            assert!(error.error.starts_with("id must be"), "{error:?}");
            return;
        }
    }
    let Ok(payload) = decoded else {
        return;
    };
    for (field, pairs) in [
        ("headers", &payload.headers),
        ("parameters", &payload.parameters),
    ] {
        let expected: Vec<(String, String)> = match object.get(field) {
            Some(Value::Object(entries)) => entries
                .iter()
                .filter_map(|(name, value)| {
                    let text = match value {
                        Value::Null => return None,
                        Value::String(text) => text.clone(),
                        Value::Bool(_) => value.to_string(),
                        Value::Number(_) => value.to_string(),
                        other => panic!("{field}.{name} = {other} decoded"),
                    };
                    Some((name.clone(), text))
                })
                .collect(),
            _ => Vec::new(),
        };
        assert_eq!(pairs, &expected, "{field}");
    }
}
