#!/usr/bin/env bash
# Builds BgUploadFFI.xcframework (the static library of the swift-bridge
# bridge, ffi/src/ios.rs) for iOS devices (aarch64-apple-ios) and the
# simulators (aarch64-apple-ios-sim and x86_64-apple-ios, merged with
# lipo), and copies the generated Swift files beside it. Output (default
# cordova/src/ios/BgUploadFFI, or the folder given as first argument):
#
#   <out>/BgUploadFFI.xcframework    libbgupload_ffi.a + headers + module map
#   <out>/Swift/SwiftBridgeCore.swift
#   <out>/Swift/bgupload-ffi.swift    (both with `import BgUploadFFI`)
#
# The app (or the Cordova plugin) links the XCFramework, compiles the two
# Swift files, and defines the classes BgUploadEventListener and
# BgUploadTransferHost (see ffi/src/ios.rs and ffi/swift-check/main.swift).
#
# Needs (checked first): macOS with Xcode (xcodebuild, lipo), cargo and
# rustup with the targets
#     rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios
# and cmake (aws-lc-sys, reqwest's TLS, may need it).
#
# Environment: IPHONEOS_DEPLOYMENT_TARGET (default 13.0),
# CARGO_PROFILE (default release).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

die() { echo "build-ios: $*" >&2; exit 1; }

out=${1:-cordova/src/ios/BgUploadFFI}
profile=${CARGO_PROFILE:-release}
profile_dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
export IPHONEOS_DEPLOYMENT_TARGET=${IPHONEOS_DEPLOYMENT_TARGET:-13.0}

[ "$(uname -s)" = Darwin ] || die "needs macOS with Xcode (xcodebuild, lipo)"
for tool in xcodebuild lipo cargo rustup cmake; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios)
installed=$(rustup target list --installed)
for target in "${targets[@]}"; do
    grep -qx "$target" <<<"$installed" || die "missing Rust target: rustup target add $target"
done

staging="$root/target/ios-xcframework"
rm -rf "$staging"
mkdir -p "$staging/generated" "$staging/headers" "$staging/simulator"
for target in "${targets[@]}"; do
    # build.rs writes the generated Swift and headers into its OUT_DIR,
    # named in cargo's JSON messages; they are the same for every target.
    out_dir=$(cargo build --profile "$profile" -p bgupload-ffi --lib --target "$target" \
            --message-format=json-render-diagnostics \
        | grep '"reason":"build-script-executed"' | grep 'bgupload-ffi' \
        | grep -o '"out_dir":"[^"]*"' | sed 's/^"out_dir":"\(.*\)"$/\1/' | tail -n 1) \
        || die "cargo build for $target failed (or printed no build-script message)"
    [ -n "$out_dir" ] && [ -d "$out_dir/swift-bridge" ] || die "swift-bridge output not found"
done
cp -R "$out_dir/swift-bridge/." "$staging/generated/"
library() { echo "$root/target/$1/$profile_dir/libbgupload_ffi.a"; }
lipo -create "$(library aarch64-apple-ios-sim)" "$(library x86_64-apple-ios)" \
    -output "$staging/simulator/libbgupload_ffi.a"

cp "$staging/generated/SwiftBridgeCore.h" "$staging/generated/bgupload-ffi/bgupload-ffi.h" \
    "$staging/headers/"
cat > "$staging/headers/module.modulemap" <<'MODULEMAP'
module BgUploadFFI {
    header "SwiftBridgeCore.h"
    header "bgupload-ffi.h"
    export *
}
MODULEMAP

rm -rf "$out"
mkdir -p "$out/Swift"
xcodebuild -create-xcframework \
    -library "$(library aarch64-apple-ios)" -headers "$staging/headers" \
    -library "$staging/simulator/libbgupload_ffi.a" -headers "$staging/headers" \
    -output "$out/BgUploadFFI.xcframework"
for swift in SwiftBridgeCore.swift bgupload-ffi/bgupload-ffi.swift; do
    { echo "import BgUploadFFI"; cat "$staging/generated/$swift"; } \
        > "$out/Swift/$(basename "$swift")"
done
echo "build-ios: $out/BgUploadFFI.xcframework and $out/Swift/"
