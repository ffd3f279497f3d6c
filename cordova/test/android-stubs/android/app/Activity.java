// Compile-time stub (scripts/cordova-check.sh): the signatures the plugin's
// Java glue and cordova-android's framework sources use, as in the Android
// SDK / AndroidX / org.json. Never run.
package android.app;

public class Activity extends android.content.Context {
    public void runOnUiThread(Runnable action) {}
}
