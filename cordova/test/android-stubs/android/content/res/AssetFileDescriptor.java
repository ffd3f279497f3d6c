// Compile-time stub (scripts/cordova-check.sh): the signatures the plugin's
// Java glue and cordova-android's framework sources use, as in the Android
// SDK / AndroidX / org.json. Never run.
package android.content.res;

public class AssetFileDescriptor implements java.io.Closeable {
    public java.io.FileInputStream createInputStream() throws java.io.IOException { return null; }
    public java.io.FileOutputStream createOutputStream() throws java.io.IOException { return null; }
    public long getLength() { return 0; }
    public long getStartOffset() { return 0; }
    public void close() throws java.io.IOException {}
}
