// Compile-time stub (scripts/cordova-check.sh): the signatures the plugin's
// Java glue and cordova-android's framework sources use, as in the Android
// SDK / AndroidX / org.json. Never run.
package android.net;

public final class NetworkCapabilities {
    public static final int NET_CAPABILITY_NOT_METERED = 11;
    public static final int NET_CAPABILITY_INTERNET = 12;
    public boolean hasCapability(int capability) { return false; }
}
