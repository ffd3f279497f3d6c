// Compile-time stub (scripts/cordova-check.sh): the signatures the plugin's
// Java glue and cordova-android's framework sources use, as in the Android
// SDK / AndroidX / org.json. Never run.
package android.os;

public class Build {
    public static class VERSION {
        public static final int SDK_INT = 0;
    }
    public static class VERSION_CODES {
        public static final int O = 26;
        public static final int Q = 29;
    }
}
