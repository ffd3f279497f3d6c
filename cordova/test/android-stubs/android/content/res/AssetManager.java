// Compile-time stub (scripts/cordova-check.sh): the signatures the plugin's
// Java glue and cordova-android's framework sources use, as in the Android
// SDK / AndroidX / org.json. Never run.
package android.content.res;

public final class AssetManager {
    public java.io.InputStream open(String fileName) throws java.io.IOException { return null; }
    public AssetFileDescriptor openFd(String fileName) throws java.io.IOException { return null; }
}
