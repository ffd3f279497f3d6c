// Compile-time stub (scripts/cordova-check.sh): the signatures the plugin's
// Java glue and cordova-android's framework sources use, as in the Android
// SDK / AndroidX / org.json. Never run.
package androidx.work;

public final class Constraints {
    public static final class Builder {
        public Builder setRequiredNetworkType(NetworkType networkType) { return this; }
        public Constraints build() { return null; }
    }
}
