// Compile-time stub (scripts/cordova-check.sh): the signatures the plugin's
// Java glue and cordova-android's framework sources use, as in the Android
// SDK / AndroidX / org.json. Never run.
package android;
public final class R {
    public static final class drawable {
        public static final int stat_sys_upload = 0x01080088;
    }
}
