package com.bgupload.cordova;

import android.content.Context;
import android.net.ConnectivityManager;
import android.net.Network;
import android.net.NetworkCapabilities;

/**
 * Reports whether the default network is up, so that the engine holds
 * uploads while offline without spending their attempts, and starts them
 * when the network comes back.
 */
final class NetworkMonitor extends ConnectivityManager.NetworkCallback {
    interface Listener {
        void onReachableChanged(boolean reachable);
    }

    private final ConnectivityManager connectivity;
    private final Listener listener;

    NetworkMonitor(Context context, Listener listener) {
        connectivity = context.getSystemService(ConnectivityManager.class);
        this.listener = listener;
    }

    /** Whether a default network with Internet access exists now. */
    boolean isReachable() {
        Network network = connectivity.getActiveNetwork();
        if (network == null) {
            return false;
        }
        NetworkCapabilities capabilities = connectivity.getNetworkCapabilities(network);
        return capabilities != null && capabilities.hasCapability(NetworkCapabilities.NET_CAPABILITY_INTERNET);
    }

    /** Reports every change of the default network from now on. */
    void start() {
        connectivity.registerDefaultNetworkCallback(this);
    }

    @Override
    public void onAvailable(Network network) {
        listener.onReachableChanged(true);
    }

    @Override
    public void onLost(Network network) {
        // A new default network, if any, is reported by onAvailable.
        listener.onReachableChanged(false);
    }
}
