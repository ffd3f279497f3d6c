//! `multipart_roundtrip`: hostile parameter names and values, file keys and
//! file names into `Body::framed`, with in-memory file bytes between the
//! preamble and the epilogue; the body is parsed back by `multer` (an
//! independent parser, the one axum and the embedded receiver use) fed in
//! chunks of every size, and split by a strict reader of this module.
//!
//! Checked:
//! - `content_length` is the exact length; the boundary is at most 70
//!   characters of `[0-9a-z-]` and is the one in `content_type`; a raw
//!   body has no framing at all;
//! - the strict reader finds exactly the parameters, in order, then the
//!   file part, each `Content-Disposition` being `form-data; name="…"`
//!   (and `; filename="…"`) with names escaped as multipart.rs documents
//!   (`"` → `%22`, every ASCII control character → `%XX`, nothing else),
//!   values and file bytes byte for byte;
//! - `multer` agrees: it parses every body (part headers can no longer hold
//!   a control character: F5, fixed in 1edb564), and finds the same number
//!   of parts with the same bytes; it reports the same names and file
//!   names except where its attribute scan is known to misread a valid
//!   header (see [`multer_filename_at`], [`multer_reads_quoted`]), a
//!   divergence reported separately rather than hidden.
//!
//! A boundary can collide with the data only when the fuzzer learns the
//! boundary of its own seed and writes it into a value or the file; such
//! inputs prove nothing and are skipped.

use crate::seed::{Blob, Text, fuzz_struct};
use bgupload_io::multipart::{Body, BodyFormat, BodySpec};
use bytes::Bytes;
use std::path::PathBuf;

/// RFC 2046's limit on a boundary's length.
const MAX_BOUNDARY_CHARS: usize = 70;

fuzz_struct! {
    pub struct MultipartCase {
        pub seed: u64,
        pub raw: bool,
        pub file_key: Text,
        /// Joined to `/fuzz/`; the body names the path's last component.
        pub file_name: Text,
        pub content: Blob,
        /// Chunk size fed to `multer`: 1 + value % 4096.
        pub chunk: u16,
        pub parameters: Vec<(Text, Text)>,
    }
}

/// How multipart.rs documents the escaping of a name or file name: `"`
/// and every ASCII control character as `%XX` (upper-case hex; CR `%0D`,
/// LF `%0A`); nothing else changes.
pub fn escape(name: &str) -> String {
    let mut escaped = String::with_capacity(name.len());
    for character in name.chars() {
        if character == '"' || character.is_ascii_control() {
            escaped.push_str(&format!("%{:02X}", u32::from(character)));
        } else {
            escaped.push(character);
        }
    }
    escaped
}

/// Where `multer` 3 takes the `filename` attribute of a part header to be
/// (an offset into `header`), mirroring its scan: the first `filename` that
/// follows a space or `;`, or that directly follows an earlier `filename`
/// it skipped (its scan restarts there). The scan is not quote-aware, so
/// it can stop inside a quoted name: a parameter named `a; filename=b` is
/// read as a file part, `(filenamefilename=` too, and a file key holding
/// ` filename` hides the real file name.
pub fn multer_filename_at(header: &str) -> Option<usize> {
    let token = b"filename";
    let bytes = header.as_bytes();
    let mut offset = 0;
    while let Some(found) = find(&bytes[offset..], token) {
        let at = offset + found;
        let after_skip = found == 0 && offset > 0;
        if at == 0 || after_skip || bytes[at - 1].is_ascii_whitespace() || bytes[at - 1] == b';' {
            return Some(at);
        }
        offset = at + token.len();
    }
    None
}

/// Whether `multer` 3 reads a quoted `name`/`filename` value back as
/// written: not when it ends with `\` (taken as an escaped closing quote).
pub fn multer_reads_quoted(escaped: &str) -> bool {
    !escaped.ends_with('\\')
}

/// One part as read back.
#[derive(Debug, PartialEq, Eq)]
struct Part {
    disposition: String,
    data: Vec<u8>,
}

pub fn run(case: &MultipartCase) {
    let file_path = PathBuf::from(format!("/fuzz/{}", case.file_name.0));
    let spec = BodySpec {
        file_path: file_path.clone(),
        file_key: case.file_key.0.clone(),
        parameters: case
            .parameters
            .iter()
            .map(|(name, value)| (name.0.clone(), value.0.clone()))
            .collect(),
        format: if case.raw {
            BodyFormat::Raw
        } else {
            BodyFormat::Multipart
        },
    };
    let content = &case.content.0;
    let body = Body::framed(&spec, content.len() as u64, case.seed);
    let mut bytes = Vec::new();
    bytes.extend_from_slice(body.preamble());
    bytes.extend_from_slice(content);
    bytes.extend_from_slice(body.epilogue());
    assert_eq!(body.content_length(), bytes.len() as u64, "Content-Length");
    assert!(
        !body.content_type().contains(['\r', '\n']),
        "Content-Type {:?}",
        body.content_type()
    );
    let Some(boundary) = body.boundary() else {
        assert!(case.raw, "a multipart body without a boundary");
        assert!(body.preamble().is_empty() && body.epilogue().is_empty());
        return;
    };
    assert!(!case.raw, "a raw body with a boundary");
    assert!(
        boundary.len() <= MAX_BOUNDARY_CHARS
            && boundary
                .bytes()
                .all(|byte| byte.is_ascii_digit() || byte.is_ascii_lowercase() || byte == b'-'),
        "boundary {boundary:?}"
    );
    assert_eq!(
        body.content_type(),
        format!("multipart/form-data; boundary={boundary}")
    );
    let collides = |data: &[u8]| {
        data.windows(boundary.len())
            .any(|window| window == boundary.as_bytes())
    };
    if collides(content)
        || spec
            .parameters
            .iter()
            .any(|(_, value)| collides(value.as_bytes()))
    {
        return;
    }

    let file_name = file_path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut expected: Vec<Part> = spec
        .parameters
        .iter()
        .map(|(name, value)| Part {
            disposition: format!("form-data; name=\"{}\"", escape(name)),
            data: value.as_bytes().to_vec(),
        })
        .collect();
    expected.push(Part {
        disposition: format!(
            "form-data; name=\"{}\"; filename=\"{}\"",
            escape(&spec.file_key),
            escape(&file_name)
        ),
        data: content.clone(),
    });
    let strict = split_strictly(&bytes, boundary);
    assert_eq!(strict, expected, "the body's parts are not what was asked");

    let chunk = 1 + usize::from(case.chunk % 4096);
    let parsed = parse_with_multer(&bytes, boundary, chunk)
        .unwrap_or_else(|error| panic!("multer refused the body: {error}"));
    assert_eq!(
        parsed.len(),
        expected.len(),
        "multer found another number of parts"
    );
    for (index, ((name, file, data), want)) in parsed.iter().zip(&expected).enumerate() {
        assert_eq!(data, &want.data, "part {index}'s bytes");
        let is_file_part = index + 1 == expected.len();
        let want_name = if is_file_part {
            escape(&spec.file_key)
        } else {
            escape(&spec.parameters[index].0)
        };
        if multer_reads_quoted(&want_name) {
            assert_eq!(
                name.as_deref(),
                Some(want_name.as_str()),
                "part {index}'s name"
            );
        }
        let header = &want.disposition;
        if is_file_part {
            let real = header.len() - escape(&file_name).len() - "filename=\"\"".len();
            let want_file = escape(&file_name);
            if multer_filename_at(header) == Some(real) && multer_reads_quoted(&want_file) {
                assert_eq!(file.as_deref(), Some(want_file.as_str()), "file name");
            }
        } else if multer_filename_at(header).is_none() {
            assert_eq!(file, &None, "parameter {index} read as a file");
        }
    }
}

type MulterPart = (Option<String>, Option<String>, Vec<u8>);

fn parse_with_multer(
    body: &[u8],
    boundary: &str,
    chunk: usize,
) -> Result<Vec<MulterPart>, multer::Error> {
    let chunks: Vec<Result<Bytes, std::io::Error>> = body
        .chunks(chunk)
        .map(|piece| Ok(Bytes::copy_from_slice(piece)))
        .collect();
    let mut multipart = multer::Multipart::new(futures::stream::iter(chunks), boundary);
    futures::executor::block_on(async move {
        let mut parts = Vec::new();
        while let Some(field) = multipart.next_field().await? {
            let name = field.name().map(str::to_owned);
            let file_name = field.file_name().map(str::to_owned);
            let data = field.bytes().await?.to_vec();
            parts.push((name, file_name, data));
        }
        Ok(parts)
    })
}

/// Splits a body by its delimiters, RFC 2046 to the letter: a first
/// delimiter at the very start, each part's headers up to an empty line,
/// a close delimiter and a final CRLF at the very end. Any deviation
/// panics; a part's headers must be exactly one `Content-Disposition`
/// (and, for the file part, one `Content-Type`).
fn split_strictly(body: &[u8], boundary: &str) -> Vec<Part> {
    let first = format!("--{boundary}\r\n");
    let delimiter = format!("\r\n--{boundary}");
    assert!(body.starts_with(first.as_bytes()), "no opening delimiter");
    let mut rest = &body[first.len() - 2..];
    let mut parts = Vec::new();
    loop {
        // `rest` starts right after a delimiter: CRLF opens a part, `--`
        // closes the body.
        if let Some(end) = rest.strip_prefix(b"--") {
            assert_eq!(end, b"\r\n", "bytes after the close delimiter");
            return parts;
        }
        let after = rest
            .strip_prefix(b"\r\n")
            .expect("a delimiter is followed by CRLF or --");
        let header_end = find(after, b"\r\n\r\n").expect("part headers end with an empty line");
        let headers = std::str::from_utf8(&after[..header_end]).expect("headers are UTF-8");
        let mut lines = headers.split("\r\n");
        let disposition = lines
            .next()
            .and_then(|line| line.strip_prefix("Content-Disposition: "))
            .expect("a part starts with Content-Disposition")
            .to_owned();
        let content_type = lines.next();
        assert!(lines.next().is_none(), "extra part headers: {headers:?}");
        let data_start = &after[header_end + 4..];
        let data_len = find(data_start, delimiter.as_bytes()).expect("every part is closed");
        if let Some(content_type) = content_type {
            assert!(
                content_type.starts_with("Content-Type: ") && disposition.contains("; filename=\""),
                "only the file part has a Content-Type: {headers:?}"
            );
        }
        parts.push(Part {
            disposition,
            data: data_start[..data_len].to_vec(),
        });
        rest = &data_start[data_len + delimiter.len()..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
