#!/usr/bin/env bash
# Checks the Cordova plugin package (cordova/) on a machine without Android
# SDK, Xcode or device. Exits non-zero on the first failure.
#
# 1. JS API end to end: `node --test cordova/test/plugin.test.mjs` drives
#    cordova/www/FileTransferManager.js over `bgupload-bridge` (the engine,
#    as the native glue runs it) against `bgupload serve` on 127.0.0.1.
# 2. The reference plugin's own jasmine specs (tests/tests.js of
#    @spoonconsulting/cordova-plugin-background-upload@4.0.6, fetched with
#    npm pack, with its test server) over the same binaries:
#    scripts/reference-specs.sh, cordova/test/reference/run.mjs.
# 3. TypeScript: tsc --noEmit on cordova/types (index.d.ts, test.ts, and
#    ionic-compat.ts against @awesome-cordova-plugins/background-upload).
# 4. Java glue: javac of cordova/src/android with the cordova-android
#    framework sources it uses (from the npm package) and compile-time stubs
#    of android.*, androidx.* and org.json (cordova/test/android-stubs).
# 5. A fresh Cordova app: `cordova create`, `platform add android` and
#    `ios` (neither needs an SDK to be added), then `plugin add` of a copy
#    of cordova/ whose native libraries are placeholders (this machine
#    cannot build them); checks that every file and manifest entry landed
#    where plugin.xml says, and that without the libraries the plugin's
#    hook stops `plugin add` with the build command.
# 6. Swift glue: `swiftc -typecheck` of cordova/src/ios with the generated
#    bridge, Linux Foundation and stubs of UIKit/Network/Cordova
#    (cordova/test/ios-stubs), in the Swift chroot of scripts/swift-check.sh
#    when it exists and this runs as root; skipped (and said so) otherwise.
#
# Needs: cargo, node >= 20.17 with npm and access to the npm registry, a
# JDK (javac). npm tools are cached in target/cordova-check/tools (and
# target/reference-specs for step 2).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

CORDOVA_VERSION=13.0.0
CORDOVA_ANDROID_VERSION=15.0.0
CORDOVA_IOS_VERSION=8.1.1
PLACEHOLDER="PLACEHOLDER written by scripts/cordova-check.sh: not a real library"

target_dir=${CARGO_TARGET_DIR:-$root/target}
tools="$target_dir/cordova-check/tools"
swift_chroot=${BGUPLOAD_SWIFT_CHROOT:-/var/tmp/bgupload-swift-trixie}
work=$(mktemp -d)
proc_mounted=0
cleanup() {
    if [ "$proc_mounted" = 1 ]; then umount "$swift_chroot/proc" || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== cordova-check: %s\n' "$*"; }
die() { echo "cordova-check: FAILED: $*" >&2; exit 1; }
expect_file() { [ -e "$1" ] || die "missing $1"; }
expect_line() { grep -qF -- "$1" "$2" || die "$2 lacks: $1"; }
# The JS module as Cordova installs it: the source inside
# cordova.define("<plugin id>.<module name>", function(require, exports, module) { ... });
expect_js_module() {
    head -n 1 "$1" | grep -qF 'cordova.define("cordova-plugin-bgupload.FileTransferManager", function(require, exports, module) {' \
        || die "$1 is not the module cordova-plugin-bgupload.FileTransferManager"
    diff -q <(sed '1d;$d' "$1") <(cat cordova/www/FileTransferManager.js; echo) >/dev/null \
        || die "$1 does not hold cordova/www/FileTransferManager.js"
}

step "tools"
command -v cargo >/dev/null || die "cargo not found"
command -v javac >/dev/null || die "javac not found (a JDK 11+: apt-get install -y openjdk-17-jdk-headless)"
command -v node >/dev/null && command -v npm >/dev/null || die "node and npm not found (Node 20.17+)"
node -e 'const [major, minor] = process.versions.node.split(".").map(Number);
         process.exit(major > 20 || (major === 20 && minor >= 17) ? 0 : 1)' \
    || die "Node $(node --version) is too old: cordova@$CORDOVA_VERSION needs 20.17+"
node --version
if [ "$("$tools/node_modules/.bin/cordova" --version 2>/dev/null || true)" != "$CORDOVA_VERSION" ] \
    || [ ! -d "$tools/node_modules/cordova-android/framework/src" ]; then
    mkdir -p "$tools"
    timeout 600 npm install --prefix "$tools" --no-audit --no-fund --loglevel=error \
        "cordova@$CORDOVA_VERSION" "cordova-android@$CORDOVA_ANDROID_VERSION"
fi
(cd cordova && timeout 300 npm ci --no-audit --no-fund --loglevel=error)

step "1. JS API over bgupload-bridge (node --test)"
timeout 1200 cargo build --locked -p bgupload-ffi --bin bgupload-bridge -p bgupload --bin bgupload
BGUPLOAD_BIN_DIR="$target_dir/debug" timeout 600 node --test cordova/test/plugin.test.mjs

step "2. the reference plugin's jasmine specs over bgupload-bridge"
BGUPLOAD_BIN_DIR="$target_dir/debug" bash scripts/reference-specs.sh

step "3. TypeScript (tsc --noEmit)"
timeout 300 cordova/node_modules/.bin/tsc -p cordova/types/tsconfig.json

step "4. Java glue against cordova-android $CORDOVA_ANDROID_VERSION's framework sources"
# rustls-platform-verifier's Android library must match the crate's version.
verifier=$(grep -A1 '^name = "rustls-platform-verifier-android"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
[ -n "$verifier" ] || die "rustls-platform-verifier-android not found in Cargo.lock"
expect_line "implementation \"org.rustls:rustls-platform-verifier:$verifier\"" cordova/src/android/bgupload.gradle
mkdir -p "$work/classes"
# -implicit:class: the framework classes the glue reaches are compiled too.
timeout 300 javac --release 11 -Xlint:all -Werror -implicit:class -d "$work/classes" \
    -sourcepath "$tools/node_modules/cordova-android/framework/src:cordova/test/android-stubs" \
    $(find cordova/src/android -name '*.java' | sort)
for class in com/bgupload/cordova/BgUploadPlugin com/bgupload/cordova/UploadWorker org/apache/cordova/CordovaPlugin; do
    expect_file "$work/classes/$class.class"
done

step "5. a fresh Cordova app: platforms android and ios, plugin add"
export CI=true
cordova=("$tools/node_modules/.bin/cordova")
plugin="$work/plugin"
mkdir -p "$plugin"
tar -C cordova --exclude=./node_modules --exclude=./test -cf - . | tar -C "$plugin" -xf -
# The glue and the libraries are separate: never copy stale built libraries.
rm -rf "$plugin/src/android/jniLibs" "$plugin/src/ios/BgUploadFFI"
(
    cd "$work"
    timeout 300 "${cordova[@]}" create app com.bgupload.check BgUploadCheck --no-telemetry
    cd app
    timeout 600 "${cordova[@]}" platform add "android@$CORDOVA_ANDROID_VERSION" --no-telemetry
    timeout 600 "${cordova[@]}" platform add "ios@$CORDOVA_IOS_VERSION" --no-telemetry
)
cp -a "$work/app" "$work/app-without-libraries"
if (cd "$work/app-without-libraries" && timeout 300 "${cordova[@]}" plugin add "$plugin" --no-telemetry) \
    >"$work/without-libraries.log" 2>&1; then
    die "plugin add succeeded without the native libraries"
fi
expect_line "the native engine for android is not built" "$work/without-libraries.log"
expect_line "ffi/scripts/build-android.sh" "$work/without-libraries.log"
for abi in arm64-v8a armeabi-v7a x86_64; do
    mkdir -p "$plugin/src/android/jniLibs/$abi"
    echo "$PLACEHOLDER" > "$plugin/src/android/jniLibs/$abi/libbgupload_ffi.so"
done
mkdir -p "$plugin/src/ios/BgUploadFFI/BgUploadFFI.xcframework" "$plugin/src/ios/BgUploadFFI/Swift"
echo "$PLACEHOLDER" > "$plugin/src/ios/BgUploadFFI/BgUploadFFI.xcframework/Info.plist"
for swift in SwiftBridgeCore.swift bgupload-ffi.swift; do
    echo "// $PLACEHOLDER" > "$plugin/src/ios/BgUploadFFI/Swift/$swift"
done
(cd "$work/app" && timeout 300 "${cordova[@]}" plugin add "$plugin" --no-telemetry)

android="$work/app/platforms/android"
main="$android/app/src/main"
for file in com/bgupload/Native.java com/bgupload/EventListener.java \
    com/bgupload/cordova/BgUploadPlugin.java com/bgupload/cordova/BgUploadHost.java \
    com/bgupload/cordova/NetworkMonitor.java com/bgupload/cordova/UploadWorker.java; do
    cmp -s "cordova/src/android/$file" "$main/java/$file" || die "$main/java/$file is not cordova/src/android/$file"
done
for abi in arm64-v8a armeabi-v7a x86_64; do
    expect_line "$PLACEHOLDER" "$main/jniLibs/$abi/libbgupload_ffi.so"
done
for www in "$android/platform_www" "$main/assets/www"; do
    expect_js_module "$www/plugins/cordova-plugin-bgupload/www/FileTransferManager.js"
done
expect_line '"clobbers": [' "$main/assets/www/cordova_plugins.js"
expect_line '"FileTransferManager"' "$main/assets/www/cordova_plugins.js"
manifest="$main/AndroidManifest.xml"
for permission in INTERNET ACCESS_NETWORK_STATE POST_NOTIFICATIONS FOREGROUND_SERVICE \
    FOREGROUND_SERVICE_DATA_SYNC WAKE_LOCK; do
    expect_line "<uses-permission android:name=\"android.permission.$permission\" />" "$manifest"
done
grep 'androidx.work.impl.foreground.SystemForegroundService' "$manifest" | grep -q 'android:foregroundServiceType="dataSync"' \
    || die "$manifest lacks the dataSync SystemForegroundService"
expect_line '<param name="android-package" value="com.bgupload.cordova.BgUploadPlugin" />' "$main/res/xml/config.xml"
# The queue's store is excluded from backups and device transfers.
application_tag=$(tr '\n' ' ' < "$manifest" | grep -o '<application[^>]*>')
for attribute in 'android:fullBackupContent="@xml/bgupload_backup_rules"' \
    'android:dataExtractionRules="@xml/bgupload_data_extraction_rules"'; do
    grep -qF -- "$attribute" <<<"$application_tag" || die "$manifest's <application> lacks $attribute"
done
for rules in bgupload_backup_rules bgupload_data_extraction_rules; do
    cmp -s "cordova/src/android/res/xml/$rules.xml" "$main/res/xml/$rules.xml" || die "$main/res/xml/$rules.xml is not the plugin's"
    expect_line '<exclude domain="file" path="bgupload/" />' "$main/res/xml/$rules.xml"
done
properties="$android/project.properties"
expect_line "androidx.work:work-runtime:2." "$properties"
gradle_include=$(sed -n 's/^cordova\.gradle\.include\.[0-9]*=\(cordova-plugin-bgupload\/.*\)$/\1/p' "$properties")
[ -n "$gradle_include" ] || die "$properties includes no bgupload gradle file"
cmp -s cordova/src/android/bgupload.gradle "$android/$gradle_include" || die "$android/$gradle_include differs"

ios="$work/app/platforms/ios"
plugins_dir="$ios/App/Plugins/cordova-plugin-bgupload"
for swift in BgUploadPlugin.swift BgUploadEngine.swift BgUploadBridge.swift BgUploadAppDelegate.swift; do
    cmp -s "cordova/src/ios/$swift" "$plugins_dir/$swift" || die "$plugins_dir/$swift is not cordova/src/ios/$swift"
done
expect_file "$plugins_dir/SwiftBridgeCore.swift"
expect_file "$plugins_dir/bgupload-ffi.swift"
expect_file "$plugins_dir/BgUploadFFI.xcframework/Info.plist"
pbxproj="$ios/App.xcodeproj/project.pbxproj"
for reference in "BgUploadPlugin.swift in Sources" "bgupload-ffi.swift in Sources" "Security.framework in Frameworks"; do
    expect_line "$reference" "$pbxproj"
done
# The XCFramework is linked (Frameworks build phase), not embedded.
sed -n '/Begin PBXFrameworksBuildPhase/,/End PBXFrameworksBuildPhase/p' "$pbxproj" | grep -q 'BgUploadFFI.xcframework' \
    || die "BgUploadFFI.xcframework is not in the Frameworks build phase"
if grep -q 'BgUploadFFI.xcframework in Embed' "$pbxproj"; then die "BgUploadFFI.xcframework is embedded"; fi
expect_line '<param name="ios-package" value="BgUploadPlugin" />' "$ios/App/config.xml"
expect_js_module "$ios/www/plugins/cordova-plugin-bgupload/www/FileTransferManager.js"
echo "cordova-check: the plugin's files, manifest entries and project references are in place"

step "6. Swift glue (swiftc -typecheck)"
if [ "$(id -u)" != 0 ] || [ ! -x "$swift_chroot/usr/bin/swiftc" ]; then
    echo "cordova-check: SKIPPED: needs root and the Swift chroot $swift_chroot (scripts/swift-check.sh creates it)"
    echo "cordova-check: ok (steps 1-5)"
    exit 0
fi
out_dir=$(timeout 1200 cargo build --locked -p bgupload-ffi --lib --message-format=json-render-diagnostics \
    | grep '"reason":"build-script-executed"' | grep 'bgupload-ffi' \
    | grep -o '"out_dir":"[^"]*"' | sed 's/^"out_dir":"\(.*\)"$/\1/' | tail -n 1)
[ -n "$out_dir" ] && [ -d "$out_dir/swift-bridge" ] || die "swift-bridge output not found"
check_in_chroot=/tmp/bgupload-cordova-swift-check
check="$swift_chroot$check_in_chroot"
rm -rf "$check"
mkdir -p "$check/generated" "$check/stubs" "$check/plugin"
cp -R "$out_dir/swift-bridge/." "$check/generated/"
cp ffi/swift-check/bridging-header.h "$check/"
cp cordova/test/ios-stubs/*.swift "$check/stubs/"
# Linux Swift has no Objective-C runtime (@objc) and no background sessions.
for swift in cordova/src/ios/*.swift; do
    {
        printf '#if canImport(FoundationNetworking)\nimport FoundationNetworking\n#endif\n'
        sed -E 's/@objc(\([^)]*\))? ?//; s/URLSessionConfiguration\.background\(withIdentifier:/URLSessionConfiguration.darwinBackground(withIdentifier:/' "$swift"
    } > "$check/plugin/$(basename "$swift")"
done
if ! mountpoint -q "$swift_chroot/proc"; then
    mount -t proc proc "$swift_chroot/proc"
    proc_mounted=1
fi
timeout 600 chroot "$swift_chroot" sh -c "cd $check_in_chroot \
    && swiftc -parse-as-library -emit-module -module-name UIKit -o stubs/UIKit.swiftmodule stubs/UIKit.swift \
    && swiftc -parse-as-library -emit-module -module-name Network -o stubs/Network.swiftmodule stubs/Network.swift \
    && swiftc -parse-as-library -emit-module -module-name Cordova -I stubs -o stubs/Cordova.swiftmodule stubs/Cordova.swift \
    && swiftc -typecheck -swift-version 5 -I stubs -import-objc-header bridging-header.h \
        generated/SwiftBridgeCore.swift generated/bgupload-ffi/bgupload-ffi.swift stubs/DarwinFoundation.swift plugin/*.swift"
rm -rf "$check"
echo "cordova-check: ok"
