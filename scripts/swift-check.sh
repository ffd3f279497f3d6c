#!/usr/bin/env bash
# Compiles the generated iOS bridge (Swift + C header) with a real swiftc
# against the bgupload-ffi static library built for this Linux host, links
# it with a small Swift host (ffi/swift-check/main.swift) and runs it.
#
# Debian 12 has no Swift; Debian 13's `swiftlang` is installed into a
# minimal trixie chroot (about 1.5 min and 3.2 GB the first time; kept in
# $BGUPLOAD_SWIFT_CHROOT, default /var/tmp/bgupload-swift-trixie).
#
# Needs: root (debootstrap, chroot, mount), network access to the Debian
# archive (first run only), cargo. Not part of `cargo test`: run it by hand
# or from CI when the iOS bridge changes.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

chroot_dir=${BGUPLOAD_SWIFT_CHROOT:-/var/tmp/bgupload-swift-trixie}
mirror=${BGUPLOAD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# A separate target dir by default (see below); CI passes its own after the
# tests ran, so only bgupload-ffi is rebuilt.
target_dir=${BGUPLOAD_SWIFT_TARGET_DIR:-$root/target/swift-check}

die() { echo "swift-check: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot and mount /proc)"
command -v cargo >/dev/null || die "cargo not found"

if [ ! -x "$chroot_dir/usr/libexec/swift/bin/swift-frontend" ]; then
    if ! command -v debootstrap >/dev/null; then
        command -v apt-get >/dev/null || die "debootstrap missing and no apt-get to install it"
        apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null
    fi
    echo "== creating a Debian trixie chroot with swiftlang in $chroot_dir"
    debootstrap --variant=minbase trixie "$chroot_dir" "$mirror" \
        || { echo "debootstrap failed; trying once more"; rm -rf "$chroot_dir"; \
             debootstrap --variant=minbase trixie "$chroot_dir" "$mirror"; }
    chroot "$chroot_dir" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends swiftlang libc6-dev libstdc++-14-dev
fi

echo "== building bgupload-ffi for the host with the iOS bridge (feature swift-host)"
work_in_chroot=/tmp/bgupload-swift-check
work="$chroot_dir$work_in_chroot"
rm -rf "$work"
mkdir -p "$work/generated"
# A separate target dir: this build's libraries need Swift symbols to link,
# so they must not replace the ones the JNI harness loads. build.rs writes
# the generated files into its OUT_DIR, named in cargo's JSON messages.
out_dir=$(cargo build -p bgupload-ffi --features swift-host --target-dir "$target_dir" \
        --message-format=json-render-diagnostics \
    | grep '"reason":"build-script-executed"' | grep 'bgupload-ffi' \
    | grep -o '"out_dir":"[^"]*"' | sed 's/^"out_dir":"\(.*\)"$/\1/' | tail -n 1) \
        || die "cargo build failed (or printed no build-script message)"
[ -n "$out_dir" ] && [ -d "$out_dir/swift-bridge" ] || die "swift-bridge output not found"
cp -R "$out_dir/swift-bridge/." "$work/generated/"
cp "$target_dir/debug/libbgupload_ffi.a" "$work/"
cp ffi/swift-check/main.swift ffi/swift-check/bridging-header.h "$work/"
test -f "$work/generated/bgupload-ffi/bgupload-ffi.swift" || die "swift-bridge output missing"

proc_mounted=0
cleanup() { if [ "$proc_mounted" = 1 ]; then umount "$chroot_dir/proc" || true; fi; }
trap cleanup EXIT
if ! mountpoint -q "$chroot_dir/proc"; then
    mount -t proc proc "$chroot_dir/proc"   # swift-driver needs /proc
    proc_mounted=1
fi

echo "== swiftc"
chroot "$chroot_dir" sh -c "cd $work_in_chroot && swiftc -swift-version 5 \
    -import-objc-header bridging-header.h \
    generated/SwiftBridgeCore.swift generated/bgupload-ffi/bgupload-ffi.swift main.swift \
    -L . -lbgupload_ffi -lgcc_s -lutil -lrt -lpthread -lm -ldl \
    -o swift-check"

echo "== running the Swift host"
chroot "$chroot_dir" sh -c "cd $work_in_chroot && rm -rf run && mkdir run && timeout 120 ./swift-check $work_in_chroot/run"
