// Compile-time stub (scripts/cordova-check.sh): the signatures the plugin's
// Java glue and cordova-android's framework sources use, as in the Android
// SDK / AndroidX / org.json. Never run.
package android.net;

public class ConnectivityManager {
    public static class NetworkCallback {
        public void onAvailable(Network network) {}
        public void onLost(Network network) {}
        public void onCapabilitiesChanged(Network network, NetworkCapabilities networkCapabilities) {}
    }
    public Network getActiveNetwork() { return null; }
    public NetworkCapabilities getNetworkCapabilities(Network network) { return null; }
    public void registerDefaultNetworkCallback(NetworkCallback networkCallback) {}
}
