//! Decoding of every JSON argument the host passes: the `startUpload`
//! payload, the `init` configuration, the `open` options, and the ids of
//! `removeUpload` / `acknowledgeEvent`. One place, so Android and iOS accept
//! exactly the same input.
//!
//! Decoding only checks shapes and types (a field of the wrong type is an
//! error naming the field); the rules on values (ids, URLs, limits,
//! defaults) are the state machine's (`bgupload_fsm::validate`).

use crate::error::FfiError;
use bgupload_fsm::validate::{
    MAX_EVENT_ID_TEXT_BYTES, MSG_EVENT_ID_TOO_LONG, MSG_ID_REQUIRED, MSG_PAYLOAD_MISSING,
    acknowledged_event,
};
use bgupload_fsm::{
    BodyFormat, Config, ErrorCode, EventId, NetworkRequirement, Rejection, StatusPolicy,
    UploadPayload,
};
use bgupload_io::HttpConfig;
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;
use std::time::Duration;

/// Largest JSON text accepted for a payload, a configuration or options
/// (parameters may hold up to 1 MiB; escaping may double it).
pub const MAX_JSON_BYTES: usize = 4 * 1024 * 1024;
/// Longest value echoed back in an error message.
const MAX_ECHOED_BYTES: usize = 64;
/// Longest network timeout an `open` option may set.
pub const MAX_TIMEOUT_MILLIS: u64 = 60 * 60 * 1_000;
/// Longest `attemptTimeoutMillis` (30 days).
pub const MAX_ATTEMPT_TIMEOUT_MILLIS: u64 = 30 * 24 * 60 * 60 * 1_000;

/// Options of `open`, all optional: `{"networkReachable": bool,
/// "networkMetered": bool, "seed":
/// number, "connectTimeoutMillis": number, "readTimeoutMillis": number,
/// "responseTimeoutMillis": number, "attemptTimeoutMillis": number}`
/// (the timeouts of [`HttpConfig`], whose defaults they take).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOptions {
    /// Whether the network is reachable at start (default true).
    pub network_reachable: bool,
    /// Whether it is metered (default false).
    pub network_metered: bool,
    /// Seed of the retry jitter; a fresh one when `None`.
    pub seed: Option<u64>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub response_timeout: Duration,
    pub attempt_timeout: Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        let http = HttpConfig::default();
        OpenOptions {
            network_reachable: true,
            network_metered: false,
            seed: None,
            connect_timeout: http.connect_timeout,
            read_timeout: http.read_timeout,
            response_timeout: http.response_timeout,
            attempt_timeout: http.attempt_timeout,
        }
    }
}

/// The fields `open` options may have.
pub const OPEN_OPTION_FIELDS: [&str; 7] = [
    "networkReachable",
    "networkMetered",
    "seed",
    "connectTimeoutMillis",
    "readTimeoutMillis",
    "responseTimeoutMillis",
    "attemptTimeoutMillis",
];

/// Decodes the `open` options; `None`, `""` and `null` give the defaults.
/// Unknown fields are refused (they are this engine's own options, so a
/// typo should not pass silently).
pub fn open_options(text: Option<&str>) -> Result<OpenOptions, FfiError> {
    let Some(object) = optional_object("options", text)? else {
        return Ok(OpenOptions::default());
    };
    if let Some(unknown) = object
        .keys()
        .find(|key| !OPEN_OPTION_FIELDS.contains(&key.as_str()))
    {
        return Err(invalid(format!(
            "options: unknown field {} (known: {})",
            echo(unknown),
            OPEN_OPTION_FIELDS.join(", ")
        )));
    }
    let mut options = OpenOptions::default();
    match object.get("networkReachable") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(reachable)) => options.network_reachable = *reachable,
        Some(other) => return Err(wrong_type("networkReachable", "a boolean", other)),
    }
    if let Some(metered) =
        optional_bool("networkMetered", object.get("networkMetered")).map_err(invalid)?
    {
        options.network_metered = metered;
    }
    options.seed = optional_integer(&object, "seed")?;
    for (field, slot, max) in [
        (
            "connectTimeoutMillis",
            &mut options.connect_timeout,
            MAX_TIMEOUT_MILLIS,
        ),
        (
            "readTimeoutMillis",
            &mut options.read_timeout,
            MAX_TIMEOUT_MILLIS,
        ),
        (
            "responseTimeoutMillis",
            &mut options.response_timeout,
            MAX_TIMEOUT_MILLIS,
        ),
        (
            "attemptTimeoutMillis",
            &mut options.attempt_timeout,
            MAX_ATTEMPT_TIMEOUT_MILLIS,
        ),
    ] {
        if let Some(millis) = optional_integer(&object, field)? {
            if millis == 0 || millis > max {
                return Err(invalid(format!("{field} must be between 1 and {max}")));
            }
            *slot = Duration::from_millis(millis);
        }
    }
    Ok(options)
}

/// Decodes and checks the `init` configuration:
/// `{"parallelUploadsLimit", "maxAttempts", "initialBackoffMillis",
/// "maxBackoffMillis", "progressIntervalMillis", "statusPolicy",
/// "idempotencyKey", "network"}`, every field optional.
/// `parallelUploadsLimit` 0, `null` or missing is the default (reference
/// behaviour). Other fields are ignored, as the reference plugin does.
pub fn config(text: Option<&str>) -> Result<Config, FfiError> {
    let object = optional_object("config", text)?.unwrap_or_default();
    let mut config = Config::default();
    if let Some(limit) = optional_integer(&object, "parallelUploadsLimit")? {
        // 0 is the reference's "falsy": the state machine applies the default.
        config.parallel_uploads_limit = u32::try_from(limit).unwrap_or(u32::MAX);
    }
    if let Some(attempts) = optional_integer(&object, "maxAttempts")? {
        config.retry.max_attempts = u32::try_from(attempts).unwrap_or(u32::MAX);
    }
    if let Some(millis) = optional_integer(&object, "initialBackoffMillis")? {
        config.retry.initial_backoff_millis = millis;
    }
    if let Some(millis) = optional_integer(&object, "maxBackoffMillis")? {
        config.retry.max_backoff_millis = millis;
    }
    if let Some(millis) = optional_integer(&object, "progressIntervalMillis")? {
        config.progress.min_interval_millis = millis;
    }
    let defaults = UploadDefaults::of(|field| object.get(field)).map_err(invalid)?;
    config.status_policy = defaults.status_policy.unwrap_or(config.status_policy);
    config.idempotency_key = defaults.idempotency_key.unwrap_or(config.idempotency_key);
    config.network = defaults.network.unwrap_or(config.network);
    // Values are the state machine's to check (`init` answers a refusal).
    Ok(config)
}

/// `statusPolicy`, `idempotencyKey` and `network`: the fields an upload
/// and the `init` config both have (the config's are the defaults).
struct UploadDefaults {
    status_policy: Option<StatusPolicy>,
    idempotency_key: Option<bool>,
    network: Option<NetworkRequirement>,
}

impl UploadDefaults {
    fn of<'a>(field: impl Fn(&str) -> Option<&'a Value>) -> Result<UploadDefaults, String> {
        Ok(UploadDefaults {
            status_policy: optional_name(
                "statusPolicy",
                field("statusPolicy"),
                StatusPolicy::from_name,
                "\"any\" or \"standard\"",
            )?,
            idempotency_key: optional_bool("idempotencyKey", field("idempotencyKey"))?,
            network: optional_name(
                "network",
                field("network"),
                NetworkRequirement::from_name,
                "\"any\" or \"unmetered\"",
            )?,
        })
    }
}

fn optional_bool(field: &str, value: Option<&Value>) -> Result<Option<bool>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(other) => Err(format!("{field} must be a boolean, not {}", kind_of(other))),
    }
}

/// A string field naming one of a few values.
fn optional_name<T>(
    field: &str,
    value: Option<&Value>,
    from_name: fn(&str) -> Option<T>,
    names: &str,
) -> Result<Option<T>, String> {
    let Some(name) = optional_string(field, value)? else {
        return Ok(None);
    };
    from_name(&name)
        .map(Some)
        .ok_or_else(|| format!("{field} must be {names}, not {}", echo(&name)))
}

/// The headers of `updateHeaders(id, headers)`: an object of string,
/// number or boolean values, as `startUpload`'s `headers`.
pub fn headers(text: Option<&str>) -> Result<Vec<(String, String)>, FfiError> {
    let text = text.map(str::trim).unwrap_or("");
    if text.len() > MAX_JSON_BYTES {
        return Err(invalid(format!(
            "headers are larger than {MAX_JSON_BYTES} bytes"
        )));
    }
    if text.is_empty() || text == "null" {
        return Ok(Vec::new());
    }
    let loose: Loose = serde_json::from_str(text)
        .map_err(|error| invalid(format!("headers are not valid JSON: {error}")))?;
    text_pairs("headers", Some(loose)).map_err(invalid)
}

/// The id of `removeUpload`: any non-empty text (unknown ids succeed).
pub fn upload_id(text: Option<&str>) -> Result<String, FfiError> {
    match text {
        None | Some("") => Err(invalid(MSG_ID_REQUIRED.to_owned())),
        Some(id) => Ok(id.to_owned()),
    }
}

/// The id of `acknowledgeEvent`, as the app gave it: its text (a JS number
/// arrives as its text, `7` as `"7"`), or that text as a JSON string
/// literal (`"\"7\""`) from hosts that encode it. `Some` names an event this
/// engine may have issued ([`EventId::from_app_text`]); `None` is any other
/// non-empty id (an iOS Core Data URI, an upload id, `"-1"`, `"1e3"`), which
/// the reference answers with success and which changes nothing. Only a
/// missing or empty id is refused, and one over
/// [`MAX_EVENT_ID_TEXT_BYTES`].
pub fn event_id(text: Option<&str>) -> Result<Option<EventId>, FfiError> {
    let text = text.unwrap_or("");
    if text.len() > MAX_EVENT_ID_TEXT_BYTES.saturating_add(2) {
        return Err(invalid(MSG_EVENT_ID_TOO_LONG.to_owned()));
    }
    let named = match serde_json::from_str::<Value>(text) {
        Ok(Value::String(inner)) if text.starts_with('"') => inner,
        _ => text.to_owned(),
    };
    acknowledged_event(&named).map_err(|message| invalid(message.to_owned()))
}

/// Decodes a `startUpload` payload. Fields: `id`, `filePath` (an absolute
/// path or a `file://` URL, percent-decoded), `fileKey`, `serverUrl`,
/// `headers` and `parameters` (objects; string, number and boolean values,
/// numbers and booleans turned into text, `null` values left out, order
/// kept), `notificationTitle`, `requestMethod`, `uploadType`
/// (`"multipart"`, the default, or `"raw"`), `statusPolicy` (`"any"` or
/// `"standard"`), `idempotencyKey` (a boolean), `network` (`"any"` or
/// `"unmetered"`). Unknown fields are ignored.
///
/// A refusal is the reference's own message (no `errorCode`) when there is
/// no payload object at all, and otherwise names the field, with
/// [`ErrorCode::InvalidArgument`] and the id when the payload had one.
pub fn upload_payload(text: Option<&str>) -> Result<UploadPayload, Rejection> {
    let missing = |detail: Option<String>| match detail {
        None => Rejection::reference(None, MSG_PAYLOAD_MISSING),
        Some(detail) => Rejection::coded(
            None,
            ErrorCode::InvalidArgument,
            format!("{MSG_PAYLOAD_MISSING}: {detail}"),
        ),
    };
    let text = text.map(str::trim).unwrap_or("");
    if text.is_empty() || text == "null" {
        return Err(missing(None));
    }
    if text.len() > MAX_JSON_BYTES {
        return Err(missing(Some(format!("larger than {MAX_JSON_BYTES} bytes"))));
    }
    if !text.starts_with('{') {
        // Valid JSON that is not an object is "invalid arguments" too.
        return Err(match serde_json::from_str::<IgnoredAny>(text) {
            Ok(_) => missing(None),
            Err(error) => missing(Some(format!("not valid JSON ({error})"))),
        });
    }
    let raw: RawPayload = serde_json::from_str(text)
        .map_err(|error| missing(Some(format!("not valid JSON ({error})"))))?;

    let id = id_text(raw.id.as_ref())
        .map_err(|message| Rejection::coded(None, ErrorCode::InvalidArgument, message))?;
    let with_id = |message: String| {
        let id = id.clone().filter(|id| !id.is_empty());
        Rejection::coded(id, ErrorCode::InvalidArgument, message)
    };
    let file_path = optional_string("filePath", raw.file_path.as_ref())
        .map_err(with_id)?
        .map(|path| local_path(&path))
        .transpose()
        .map_err(with_id)?;
    let body_format = match optional_string("uploadType", raw.upload_type.as_ref())
        .map_err(with_id)?
        .as_deref()
    {
        None | Some("") => BodyFormat::Multipart,
        Some(kind) if kind.eq_ignore_ascii_case("multipart") => BodyFormat::Multipart,
        Some(kind) if kind.eq_ignore_ascii_case("raw") => BodyFormat::Raw,
        Some(kind) => {
            return Err(with_id(format!(
                "uploadType must be \"multipart\" or \"raw\", not {}",
                echo(kind)
            )));
        }
    };
    let defaults = UploadDefaults::of(|field| match field {
        "statusPolicy" => raw.status_policy.as_ref(),
        "idempotencyKey" => raw.idempotency_key.as_ref(),
        _ => raw.network.as_ref(),
    })
    .map_err(with_id)?;
    Ok(UploadPayload {
        status_policy: defaults.status_policy,
        idempotency_key: defaults.idempotency_key,
        network: defaults.network,
        file_path,
        file_key: optional_string("fileKey", raw.file_key.as_ref()).map_err(with_id)?,
        server_url: optional_string("serverUrl", raw.server_url.as_ref()).map_err(with_id)?,
        headers: text_pairs("headers", raw.headers).map_err(with_id)?,
        parameters: text_pairs("parameters", raw.parameters).map_err(with_id)?,
        notification_title: optional_string("notificationTitle", raw.notification_title.as_ref())
            .map_err(with_id)?,
        request_method: optional_string("requestMethod", raw.request_method.as_ref())
            .map_err(with_id)?,
        body_format,
        id,
    })
}

/// The payload's fields as given; `null` reads as absent.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPayload {
    id: Option<Value>,
    file_path: Option<Value>,
    file_key: Option<Value>,
    server_url: Option<Value>,
    headers: Option<Loose>,
    parameters: Option<Loose>,
    notification_title: Option<Value>,
    request_method: Option<Value>,
    upload_type: Option<Value>,
    status_policy: Option<Value>,
    idempotency_key: Option<Value>,
    network: Option<Value>,
}

/// Any JSON value, with an object's entries kept in their order (the
/// parameters are sent in the order the app wrote them).
enum Loose {
    Object(Vec<(String, Value)>),
    Other(&'static str),
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Loose, D::Error> {
        deserializer.deserialize_any(LooseVisitor)
    }
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, Value>()? {
            entries.push(entry);
        }
        Ok(Loose::Object(entries))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose::Other("an array"))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Loose, E> {
        Ok(Loose::Other("a boolean"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Loose, E> {
        Ok(Loose::Other("a number"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Loose, E> {
        Ok(Loose::Other("a number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Loose, E> {
        Ok(Loose::Other("a number"))
    }

    fn visit_str<E>(self, _: &str) -> Result<Loose, E> {
        Ok(Loose::Other("a string"))
    }

    fn visit_unit<E>(self) -> Result<Loose, E> {
        Ok(Loose::Other("null"))
    }
}

/// `headers` / `parameters`: an object whose values become text.
fn text_pairs(field: &str, value: Option<Loose>) -> Result<Vec<(String, String)>, String> {
    let entries = match value {
        None => return Ok(Vec::new()),
        Some(Loose::Other(kind)) => return Err(format!("{field} must be an object, not {kind}")),
        Some(Loose::Object(entries)) => entries,
    };
    let mut pairs = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        let text = match value {
            Value::Null => continue,
            Value::String(text) => text,
            Value::Bool(flag) => flag.to_string(),
            Value::Number(number) => number.to_string(),
            other => {
                return Err(format!(
                    "{field}[{}] must be a string, number or boolean, not {}",
                    echo(&name),
                    kind_of(&other)
                ));
            }
        };
        pairs.push((name, text));
    }
    Ok(pairs)
}

/// A string field; `null` or absent is `None`.
/// The payload's `id`: a string, or a number taken as its text (`123`,
/// `1.5`), as the reference's native sides read it.
fn id_text(value: Option<&Value>) -> Result<Option<String>, String> {
    match value {
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        other => optional_string("id", other),
    }
}

fn optional_string(field: &str, value: Option<&Value>) -> Result<Option<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(format!("{field} must be a string, not {}", kind_of(other))),
    }
}

/// `filePath` as a local path: a `file://` URL (`file:///a/b%20c`,
/// `file://localhost/a`) is percent-decoded; anything else is kept as given
/// (the state machine requires it to be absolute).
pub fn local_path(text: &str) -> Result<String, String> {
    const SCHEME: &str = "file://";
    let has_scheme = text
        .get(..SCHEME.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(SCHEME));
    if !has_scheme {
        return Ok(text.to_owned());
    }
    let rest = &text[SCHEME.len()..];
    let path = if rest.starts_with('/') {
        rest
    } else if rest
        .get(.."localhost/".len())
        .is_some_and(|host| host.eq_ignore_ascii_case("localhost/"))
    {
        &rest["localhost".len()..]
    } else {
        return Err(format!(
            "filePath: a file:// URL must name a local absolute path (file:///...), not {}",
            echo(text)
        ));
    };
    let path = path.split(['?', '#']).next().unwrap_or(path);
    percent_decode(path).ok_or_else(|| {
        format!(
            "filePath: {} has a bad percent escape or is not UTF-8 once decoded",
            echo(text)
        )
    })
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let high = hex_value(*bytes.get(index + 1)?)?;
            let low = hex_value(*bytes.get(index + 2)?)?;
            decoded.push(high << 4 | low);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// An optional JSON object argument; `None`, `""` or `null` is `None`.
fn optional_object(what: &str, text: Option<&str>) -> Result<Option<Map<String, Value>>, FfiError> {
    let text = text.map(str::trim).unwrap_or("");
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() > MAX_JSON_BYTES {
        return Err(invalid(format!(
            "{what} is larger than {MAX_JSON_BYTES} bytes"
        )));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Null) => Ok(None),
        Ok(Value::Object(object)) => Ok(Some(object)),
        Ok(other) => Err(invalid(format!(
            "{what} must be a JSON object, not {}",
            kind_of(&other)
        ))),
        Err(error) => Err(invalid(format!("{what} is not valid JSON: {error}"))),
    }
}

/// A non-negative integer field (`2` or `2.0`); `null` or absent is `None`.
fn optional_integer(object: &Map<String, Value>, field: &str) -> Result<Option<u64>, FfiError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => integer_of(number).map(Some).ok_or_else(|| {
            invalid(format!(
                "{field} must be a non-negative integer, not {number}"
            ))
        }),
        Some(other) => Err(wrong_type(field, "a non-negative integer", other)),
    }
}

/// The number as a u64 when it is a non-negative whole number.
fn integer_of(number: &serde_json::Number) -> Option<u64> {
    if let Some(value) = number.as_u64() {
        return Some(value);
    }
    let value = number.as_f64()?;
    // 2^64 as f64; whole numbers below it convert exactly enough.
    const U64_LIMIT: f64 = 18_446_744_073_709_551_616.0;
    (value >= 0.0 && value.fract() == 0.0 && value < U64_LIMIT).then_some(value as u64)
}

fn wrong_type(field: &str, expected: &str, found: &Value) -> FfiError {
    invalid(format!(
        "{field} must be {expected}, not {}",
        kind_of(found)
    ))
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn invalid(message: String) -> FfiError {
    FfiError::InvalidArgument(message)
}

/// `text` as a quoted, escaped string (`{:?}`) of at most
/// [`MAX_ECHOED_BYTES`] plus an ellipsis: escaping makes a control
/// character six bytes, so the bound applies to what is shown.
fn echo(text: &str) -> String {
    let shown = format!("{text:?}");
    if shown.len() <= MAX_ECHOED_BYTES {
        return shown;
    }
    let cut = bgupload_fsm::validate::truncate_to_char_boundary(&shown, MAX_ECHOED_BYTES);
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_parameters_keep_their_value() {
        let payload = upload_payload(Some(
            r#"{"id":"c3a4b4c7-4f1e-4c69-a951-773602e269fb","serverUrl":"http://h/","filePath":"/f",
               "parameters":{"big":1.2501374790173708e+243,"n":112321321,"x":0.1}}"#,
        ))
        .unwrap();
        let value = |name: &str| {
            payload
                .parameters
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
                .unwrap()
        };
        assert_eq!(value("big").parse::<f64>().unwrap(), 1.2501374790173708e243);
        assert_eq!(value("n"), "112321321");
        assert_eq!(value("x"), "0.1");
    }
    use bgupload_fsm::DEFAULT_PARALLEL_UPLOADS_LIMIT;
    use bgupload_fsm::validate::MSG_EVENT_ID_REQUIRED;

    const ID: &str = "file_1";

    fn payload(text: &str) -> Result<UploadPayload, Rejection> {
        upload_payload(Some(text))
    }

    #[test]
    fn full_payload_decodes_with_order_kept_and_values_as_text() {
        let decoded = payload(&format!(
            r#"{{"id":"{ID}","filePath":"/data/a.bin","fileKey":"doc","serverUrl":"http://127.0.0.1/u",
            "headers":{{"X-B":"b","X-A":1,"X-C":true,"X-N":null}},
            "parameters":{{"z":"last?","a":2.5,"m":false}},
            "notificationTitle":"T","requestMethod":"PUT","uploadType":"raw","extra":[1]}}"#
        ))
        .unwrap();
        assert_eq!(decoded.id.as_deref(), Some(ID));
        assert_eq!(decoded.file_path.as_deref(), Some("/data/a.bin"));
        assert_eq!(decoded.file_key.as_deref(), Some("doc"));
        assert_eq!(decoded.server_url.as_deref(), Some("http://127.0.0.1/u"));
        assert_eq!(
            decoded.headers,
            vec![
                ("X-B".to_owned(), "b".to_owned()),
                ("X-A".to_owned(), "1".to_owned()),
                ("X-C".to_owned(), "true".to_owned()),
            ]
        );
        assert_eq!(
            decoded.parameters,
            vec![
                ("z".to_owned(), "last?".to_owned()),
                ("a".to_owned(), "2.5".to_owned()),
                ("m".to_owned(), "false".to_owned()),
            ]
        );
        assert_eq!(decoded.notification_title.as_deref(), Some("T"));
        assert_eq!(decoded.request_method.as_deref(), Some("PUT"));
        assert_eq!(decoded.body_format, BodyFormat::Raw);
    }

    #[test]
    fn missing_payload_gives_the_reference_message() {
        for text in [
            None,
            Some(""),
            Some("  "),
            Some("null"),
            Some("5"),
            Some("[1]"),
            Some("\"x\""),
        ] {
            let error = upload_payload(text).unwrap_err();
            assert_eq!(error.error, MSG_PAYLOAD_MISSING, "{text:?}");
            assert_eq!(error.id, None);
            assert_eq!(
                error.error_code, None,
                "the reference's message has no code"
            );
        }
        let bad = payload("{\"id\": ").unwrap_err();
        assert!(bad.error.starts_with(MSG_PAYLOAD_MISSING), "{bad:?}");
        assert!(bad.error.contains("not valid JSON"), "{bad:?}");
        assert_eq!(bad.error_code, Some(ErrorCode::InvalidArgument.code()));
    }

    #[test]
    fn empty_object_leaves_every_check_to_the_state_machine() {
        assert_eq!(payload("{}").unwrap(), UploadPayload::default());
        let nulls = payload(r#"{"id":null,"headers":null,"filePath":null}"#).unwrap();
        assert_eq!(nulls, UploadPayload::default());
    }

    #[test]
    fn wrong_types_name_the_field() {
        let error = payload(r#"{"id":true}"#).unwrap_err();
        assert_eq!(error.error, "id must be a string, not a boolean");
        assert_eq!(error.id, None);
        assert_eq!(error.error_code, Some(ErrorCode::InvalidArgument.code()));
        for (number, text) in [("5", "5"), ("123456", "123456"), ("1.5", "1.5")] {
            let decoded = payload(&format!(r#"{{"id":{number}}}"#)).unwrap();
            assert_eq!(decoded.id.as_deref(), Some(text), "a number id is its text");
        }
        for (field, value, expected) in [
            ("filePath", "[]", "filePath must be a string, not an array"),
            ("serverUrl", "1", "serverUrl must be a string, not a number"),
            ("fileKey", "{}", "fileKey must be a string, not an object"),
            (
                "headers",
                "\"a\"",
                "headers must be an object, not a string",
            ),
            (
                "parameters",
                "[1]",
                "parameters must be an object, not an array",
            ),
            (
                "requestMethod",
                "true",
                "requestMethod must be a string, not a boolean",
            ),
            (
                "notificationTitle",
                "2",
                "notificationTitle must be a string, not a number",
            ),
        ] {
            let error = payload(&format!(r#"{{"id":"{ID}","{field}":{value}}}"#)).unwrap_err();
            assert_eq!(error.error, expected);
            assert_eq!(error.id.as_deref(), Some(ID), "{field}");
            assert_eq!(error.error_code, Some(ErrorCode::InvalidArgument.code()));
        }
        let nested =
            payload(&format!(r#"{{"id":"{ID}","headers":{{"X":{{"a":1}}}}}}"#)).unwrap_err();
        assert_eq!(
            nested.error,
            "headers[\"X\"] must be a string, number or boolean, not an object"
        );
        let kind = payload(&format!(r#"{{"id":"{ID}","uploadType":"chunked"}}"#)).unwrap_err();
        assert!(kind.error.contains("uploadType"), "{kind:?}");
    }

    #[test]
    fn file_urls_are_percent_decoded() {
        assert_eq!(local_path("/a/b c").unwrap(), "/a/b c");
        assert_eq!(
            local_path("file:///a/b%20c%C3%A9.txt").unwrap(),
            "/a/b cé.txt"
        );
        assert_eq!(local_path("FILE:///x").unwrap(), "/x");
        assert_eq!(local_path("file://localhost/x/y").unwrap(), "/x/y");
        assert_eq!(local_path("file:///x/y?query#frag").unwrap(), "/x/y");
        assert!(
            local_path("file://host/x")
                .unwrap_err()
                .contains("file:///")
        );
        assert!(local_path("file:///bad%2").is_err());
        assert!(local_path("file:///bad%zz").is_err());
        assert!(local_path("file:///bad%FF").is_err());
        let decoded = payload(&format!(
            r#"{{"id":"{ID}","filePath":"file:///tmp/a%20b"}}"#
        ))
        .unwrap();
        assert_eq!(decoded.file_path.as_deref(), Some("/tmp/a b"));
    }

    #[test]
    fn config_defaults_and_fields() {
        assert_eq!(config(None).unwrap(), Config::default());
        assert_eq!(config(Some("null")).unwrap(), Config::default());
        // Decoding keeps values as given; the state machine applies the
        // reference's falsy default and its bounds (`init` answers those).
        let zero = config(Some(r#"{"parallelUploadsLimit":0}"#)).unwrap();
        assert_eq!(zero.parallel_uploads_limit, 0);
        assert_eq!(
            bgupload_fsm::validate::config(zero)
                .unwrap()
                .parallel_uploads_limit,
            DEFAULT_PARALLEL_UPLOADS_LIMIT
        );
        let full = config(Some(
            r#"{"parallelUploadsLimit":3,"maxAttempts":4,"initialBackoffMillis":10,
               "maxBackoffMillis":100,"progressIntervalMillis":50,"other":"ignored"}"#,
        ))
        .unwrap();
        assert_eq!(full.parallel_uploads_limit, 3);
        assert_eq!(full.retry.max_attempts, 4);
        assert_eq!(full.retry.initial_backoff_millis, 10);
        assert_eq!(full.retry.max_backoff_millis, 100);
        assert_eq!(full.progress.min_interval_millis, 50);
    }

    #[test]
    fn config_errors_name_the_field() {
        let error = config(Some(r#"{"parallelUploadsLimit":"two"}"#)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "parallelUploadsLimit must be a non-negative integer, not a string"
        );
        let error = config(Some(r#"{"maxAttempts":-1}"#)).unwrap_err();
        assert!(error.to_string().starts_with("maxAttempts"), "{error}");
        let too_many = config(Some(r#"{"parallelUploadsLimit":1000}"#)).unwrap();
        let error = bgupload_fsm::validate::config(too_many).unwrap_err();
        assert!(error.contains("parallelUploadsLimit"), "{error}");
        let error = config(Some("{oops")).unwrap_err();
        assert!(error.to_string().contains("not valid JSON"), "{error}");
        let error = config(Some("[]")).unwrap_err();
        assert!(
            error.to_string().contains("must be a JSON object"),
            "{error}"
        );
    }

    #[test]
    fn event_ids_are_any_non_empty_text_and_only_issued_forms_name_an_event() {
        for text in ["7", "\"7\""] {
            assert_eq!(event_id(Some(text)).unwrap(), Some(EventId(7)), "{text}");
        }
        let never_issued = [
            "x-coredata://123/UploadEvent/p1",
            "abc",
            "-1",
            "1e3",
            "007",
            " 7 ",
            "7.0",
            "0",
            "\"x\"",
            "{}",
            "null",
            "9007199254740992",
            "99999999999999999999999",
            "c3a4b4c7-4f1e-4c69-a951-773602e269fb",
        ];
        for text in never_issued {
            assert_eq!(event_id(Some(text)).unwrap(), None, "{text}");
        }
        for text in [None, Some(""), Some("\"\"")] {
            assert_eq!(
                event_id(text).unwrap_err().to_string(),
                MSG_EVENT_ID_REQUIRED
            );
        }
        let long = "7".repeat(MAX_EVENT_ID_TEXT_BYTES + 1);
        assert_eq!(
            event_id(Some(&long)).unwrap_err().to_string(),
            MSG_EVENT_ID_TOO_LONG
        );
        let longest = "x".repeat(MAX_EVENT_ID_TEXT_BYTES);
        assert_eq!(event_id(Some(&longest)).unwrap(), None);
    }

    #[test]
    fn upload_ids_are_required() {
        assert_eq!(upload_id(None).unwrap_err().to_string(), MSG_ID_REQUIRED);
        assert_eq!(
            upload_id(Some("")).unwrap_err().to_string(),
            MSG_ID_REQUIRED
        );
        assert_eq!(upload_id(Some("x")).unwrap(), "x");
    }

    #[test]
    fn echoed_values_are_bounded_as_shown() {
        // Found by fuzzing: 64 control characters escape to 384 bytes.
        let hostile = "\u{15}".repeat(MAX_ECHOED_BYTES);
        let error = open_options(Some(&format!("{{{}:1}}", Value::from(hostile.as_str()))))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(r#"options: unknown field "\u{15}"#),
            "{error}"
        );
        assert!(
            error.len() < 200 + MAX_ECHOED_BYTES,
            "{} bytes: {error}",
            error.len()
        );
        assert_eq!(echo("short"), r#""short""#);
        assert!(echo(&"é".repeat(100)).ends_with('…'));
    }

    #[test]
    fn open_options_are_checked() {
        assert_eq!(open_options(None).unwrap(), OpenOptions::default());
        assert_eq!(open_options(Some("{}")).unwrap(), OpenOptions::default());
        let options = open_options(Some(
            r#"{"networkReachable":false,"seed":9,"connectTimeoutMillis":5,"readTimeoutMillis":6}"#,
        ))
        .unwrap();
        assert!(!options.network_reachable);
        assert_eq!(options.seed, Some(9));
        assert_eq!(options.connect_timeout, Duration::from_millis(5));
        assert_eq!(options.read_timeout, Duration::from_millis(6));
        assert!(
            open_options(Some(r#"{"sead":1}"#))
                .unwrap_err()
                .to_string()
                .contains("sead")
        );
        assert!(
            open_options(Some(r#"{"networkReachable":"yes"}"#))
                .unwrap_err()
                .to_string()
                .starts_with("networkReachable must be a boolean")
        );
        assert!(open_options(Some(r#"{"readTimeoutMillis":0}"#)).is_err());
        let options = open_options(Some(
            r#"{"responseTimeoutMillis":7,"attemptTimeoutMillis":2592000000}"#,
        ))
        .unwrap();
        assert_eq!(options.response_timeout, Duration::from_millis(7));
        assert_eq!(options.attempt_timeout, Duration::from_secs(30 * 24 * 3600));
        assert_eq!(
            open_options(Some(r#"{"attemptTimeoutMillis":2592000001}"#))
                .unwrap_err()
                .to_string(),
            "attemptTimeoutMillis must be between 1 and 2592000000"
        );
    }
}
