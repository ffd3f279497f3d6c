//! Arbitrary keys and values into the persistence codec's `decode_record`
//! (every keyspace) and `Loader`: never a panic; whatever decodes
//! re-encodes to bytes that decode to the same record; a store that loads
//! is one the machine recovers from and drives to the end
//! (`bgupload_fuzz::record_decode`).
#![no_main]

use bgupload_fuzz::record_decode::{StoreImage, run};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|image: StoreImage| run(&image));
