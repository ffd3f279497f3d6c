//! bgupload-sim
