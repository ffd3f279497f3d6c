//! bgupload-persistence
