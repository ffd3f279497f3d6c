// before_plugin_install hook: stops `cordova plugin add` with the build
// command when the engine's native libraries (build outputs, not in the
// repository) are missing for the platform being installed.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const REQUIRED = {
    android: {
        build: 'ffi/scripts/build-android.sh (needs the Android NDK and cargo-ndk)',
        files: ['arm64-v8a', 'armeabi-v7a', 'x86_64'].map((abi) => `src/android/jniLibs/${abi}/libbgupload_ffi.so`)
    },
    ios: {
        build: 'ffi/scripts/build-ios.sh (on macOS with Xcode)',
        files: [
            'src/ios/BgUploadFFI/BgUploadFFI.xcframework',
            'src/ios/BgUploadFFI/Swift/SwiftBridgeCore.swift',
            'src/ios/BgUploadFFI/Swift/bgupload-ffi.swift'
        ]
    }
};

module.exports = function (context) {
    const plugin = context.opts.plugin;
    const required = REQUIRED[plugin.platform];
    if (!required) return;
    const missing = required.files.filter((file) => !fs.existsSync(path.join(plugin.dir, file)));
    if (missing.length > 0) {
        throw new Error(
            `${plugin.id}: the native engine for ${plugin.platform} is not built: missing ${missing.join(', ')}. ` +
            `Run ${required.build} in the bgupload repository, then add the plugin again.`
        );
    }
};
