//! bgupload-ffi
