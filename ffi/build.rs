//! Generates the Swift and C header files of the iOS bridge (`src/ios.rs`)
//! with `swift-bridge-build`, on every build (any target), into
//! `$OUT_DIR/swift-bridge/`, exported to the crate as the compile-time
//! variable `BGUPLOAD_SWIFT_BRIDGE_DIR`:
//!
//! - `SwiftBridgeCore.swift`, `SwiftBridgeCore.h`
//! - `bgupload-ffi/bgupload-ffi.swift`, `bgupload-ffi/bgupload-ffi.h`
//!
//! Scripts find the directory from cargo's `build-script-executed` message
//! (`cargo build --message-format=json`, field `out_dir`): see
//! `ffi/scripts/build-ios.sh` and `scripts/swift-check.sh`.

use std::path::PathBuf;

const BRIDGES: [&str; 1] = ["src/ios.rs"];
/// Subdirectory of `OUT_DIR` holding the generated files.
const GENERATED_DIR: &str = "swift-bridge";

fn main() {
    for bridge in BRIDGES {
        println!("cargo:rerun-if-changed={bridge}");
    }
    let Some(out_dir) = std::env::var_os("OUT_DIR") else {
        panic!("cargo sets OUT_DIR for build scripts");
    };
    let generated_dir = PathBuf::from(out_dir).join(GENERATED_DIR);
    swift_bridge_build::parse_bridges(BRIDGES)
        .write_all_concatenated(&generated_dir, env!("CARGO_PKG_NAME"));
    println!(
        "cargo:rustc-env=BGUPLOAD_SWIFT_BRIDGE_DIR={}",
        generated_dir.display()
    );
}
