//! Hostile parameter names and values, file keys and file names into
//! `Body::framed`, the body parsed back by `multer` and by a strict RFC 2046
//! reader: same fields in the same order, names escaped as documented, the
//! same bytes (`bgupload_fuzz::multipart_roundtrip`).
#![no_main]

use bgupload_fuzz::multipart_roundtrip::{MultipartCase, run};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|case: MultipartCase| run(&case));
