#!/usr/bin/env bash
# Builds libbgupload_ffi.so (the JNI library of com.bgupload.Native) for the
# Android ABIs arm64-v8a, armeabi-v7a and x86_64, into the Cordova plugin's
# jniLibs folder (or the folder given as the first argument):
#
#   <out>/arm64-v8a/libbgupload_ffi.so
#   <out>/armeabi-v7a/libbgupload_ffi.so
#   <out>/x86_64/libbgupload_ffi.so
#
# Needs (checked first):
# - cargo and rustup, with the targets
#     rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
# - cargo-ndk:  cargo install cargo-ndk
# - an Android NDK (r25 or newer) in ANDROID_NDK_HOME (or ANDROID_NDK_ROOT)
# - cmake and clang on PATH may be needed by aws-lc-sys (reqwest's TLS)
#
# The app must also:
# - call Native.initAndroid(applicationContext) once before Native.open
#   (HTTPS certificate checks use rustls-platform-verifier), and
# - ship rustls-platform-verifier's Android component: add its Maven
#   folder (in the cargo registry, crate rustls-platform-verifier-android,
#   the version in Cargo.lock) as a Gradle repository and depend on
#   "rustls:rustls-platform-verifier:<that version>".
#
# Environment: BGUPLOAD_ANDROID_API (minimum API level, default 24),
# CARGO_PROFILE (default release).
set -euo pipefail
cd "$(dirname "$0")/../.."

die() { echo "build-android: $*" >&2; exit 1; }

out=${1:-cordova/src/android/jniLibs}
api=${BGUPLOAD_ANDROID_API:-24}
profile=${CARGO_PROFILE:-release}

command -v cargo >/dev/null || die "cargo not found (https://rustup.rs)"
command -v rustup >/dev/null || die "rustup not found (https://rustup.rs)"
cargo ndk --version >/dev/null 2>&1 || die "cargo-ndk not found: cargo install cargo-ndk"
ndk=${ANDROID_NDK_HOME:-${ANDROID_NDK_ROOT:-}}
[ -n "$ndk" ] && [ -d "$ndk" ] || die "set ANDROID_NDK_HOME to an Android NDK (r25 or newer)"
installed=$(rustup target list --installed)
for target in aarch64-linux-android armv7-linux-androideabi x86_64-linux-android; do
    grep -qx "$target" <<<"$installed" || die "missing Rust target: rustup target add $target"
done

mkdir -p "$out"
# 16 KB page alignment, required for apps targeting Android 15+ devices.
export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-Wl,-z,max-page-size=16384"
cargo ndk \
    -t arm64-v8a -t armeabi-v7a -t x86_64 \
    --platform "$api" \
    -o "$out" \
    build --profile "$profile" -p bgupload-ffi --lib

for abi in arm64-v8a armeabi-v7a x86_64; do
    [ -f "$out/$abi/libbgupload_ffi.so" ] || die "missing $out/$abi/libbgupload_ffi.so"
done
echo "build-android: libraries in $out"
