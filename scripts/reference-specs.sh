#!/usr/bin/env bash
# Runs the reference plugin's own jasmine specs over this engine:
# @spoonconsulting/cordova-plugin-background-upload@4.0.6's tests/tests.js,
# its test server and its photos, through cordova/www/FileTransferManager.js
# and bgupload-bridge (cordova/test/reference/run.mjs says how).
#
# Nothing of the reference is kept in this repository: the package is
# fetched here with `npm pack` and unpacked into
#   ${CARGO_TARGET_DIR:-target}/reference-specs/package
# and jasmine-core, express and busboy (its test server's dependencies) are
# installed into
#   ${CARGO_TARGET_DIR:-target}/reference-specs/tools
# both cached: skipped when already there at the pinned versions.
#
# Builds nothing: the binaries come from BGUPLOAD_BIN_DIR (default
# target/debug; scripts/cordova-check.sh builds them in its step 1).
#
# Needs: node >= 20 with npm and access to the npm registry.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

REFERENCE_PACKAGE=@spoonconsulting/cordova-plugin-background-upload
REFERENCE_VERSION=4.0.6
# The reference ran these specs with cordova-paramedic, whose
# cordova-plugin-test-framework bundles jasmine 2.4.1: a `done` called again
# is ignored there. "can transfer in parallel" does that when two UPLOADED
# come before the first acknowledgement's answer (a race, often lost on
# loopback); jasmine 4+ fails the spec for it, 3.x reports a deprecation.
# 3.99.1 is the newest jasmine with the reference's semantics.
JASMINE_CORE_VERSION=3.99.1
# The test server's package.json asks for express ^4.14.0 and busboy ^0.3.1
# (its app.js uses busboy 0.x's `new Busboy({ headers })`).
EXPRESS_VERSION=4.21.2
BUSBOY_VERSION=0.3.1

target_dir=${CARGO_TARGET_DIR:-$root/target}
cache="$target_dir/reference-specs"
package="$cache/package"
tools="$cache/tools"
bin_dir=${BGUPLOAD_BIN_DIR:-$target_dir/debug}

die() { echo "reference-specs: FAILED: $*" >&2; exit 1; }

command -v node >/dev/null && command -v npm >/dev/null || die "node and npm not found (Node 20+)"
for bin in bgupload-bridge bgupload; do
    [ -x "$bin_dir/$bin" ] || die "$bin_dir/$bin is missing: build it first
    (cargo build --locked -p bgupload-ffi --bin bgupload-bridge -p bgupload --bin bgupload)"
done

installed_version() { # <node_modules dir> <package>: its version, or nothing
    node -p "require('$1/$2/package.json').version" 2>/dev/null || true
}

mkdir -p "$cache"
if [ "$(installed_version "$cache" package)" != "$REFERENCE_VERSION" ] \
    || [ ! -f "$package/tests/tests.js" ]; then
    echo "reference-specs: fetching $REFERENCE_PACKAGE@$REFERENCE_VERSION"
    unpack=$(mktemp -d "$cache/unpack.XXXXXX")
    trap 'rm -rf "$unpack"' EXIT
    (cd "$unpack" && timeout 300 npm pack --silent "$REFERENCE_PACKAGE@$REFERENCE_VERSION" >/dev/null)
    tarball=$(find "$unpack" -maxdepth 1 -name '*.tgz' | head -n 1)
    [ -n "$tarball" ] || die "npm pack gave no tarball"
    tar -xzf "$tarball" -C "$unpack"
    [ -f "$unpack/package/tests/tests.js" ] || die "$REFERENCE_PACKAGE@$REFERENCE_VERSION has no tests/tests.js"
    rm -rf "$package"
    mv "$unpack/package" "$package"
    rm -rf "$unpack"
    trap - EXIT
fi

if [ "$(installed_version "$tools/node_modules" jasmine-core)" != "$JASMINE_CORE_VERSION" ] \
    || [ "$(installed_version "$tools/node_modules" express)" != "$EXPRESS_VERSION" ] \
    || [ "$(installed_version "$tools/node_modules" busboy)" != "$BUSBOY_VERSION" ]; then
    echo "reference-specs: installing jasmine-core@$JASMINE_CORE_VERSION express@$EXPRESS_VERSION busboy@$BUSBOY_VERSION"
    mkdir -p "$tools"
    timeout 600 npm install --prefix "$tools" --no-audit --no-fund --loglevel=error \
        "jasmine-core@$JASMINE_CORE_VERSION" "express@$EXPRESS_VERSION" "busboy@$BUSBOY_VERSION"
fi

# Bounded as a whole; each spec is bounded too (60 s, set by tests.js).
BGUPLOAD_BIN_DIR="$bin_dir" BGUPLOAD_REFERENCE_DIR="$package" BGUPLOAD_REFERENCE_TOOLS="$tools" \
    timeout 1800 node cordova/test/reference/run.mjs
