package com.bgupload.cordova;

import android.content.Context;
import android.net.ConnectivityManager;
import android.net.Network;
import android.net.NetworkCapabilities;
import android.os.Build;

/**
 * Reports the default network: whether it is up, so that the engine holds
 * uploads while offline without spending their attempts and starts them
 * when the network comes back; and whether it is metered (cellular, a
 * hotspot: {@code NET_CAPABILITY_NOT_METERED} missing), so that uploads
 * with {@code network: "unmetered"} wait for another one.
 *
 * <p>The listener hears changes only, in order: the first report after
 * {@link #readCurrent} is the first that differs from what it read.
 * Capability updates that change neither (signal strength, bandwidth) are
 * not reported.
 */
final class NetworkMonitor extends ConnectivityManager.NetworkCallback {
    interface Listener {
        /** Called on a system thread (or the caller of {@link #poll}); must not block. */
        void onNetworkChanged(boolean reachable, boolean metered);
    }

    private final ConnectivityManager connectivity;
    private final Listener listener;
    private final Object lock = new Object();
    // Guarded by lock: the state last read or reported.
    private boolean reachable;
    private boolean metered;

    NetworkMonitor(Context context, Listener listener) {
        connectivity = context.getSystemService(ConnectivityManager.class);
        this.listener = listener;
    }

    /** Reads the default network as it is now (the state the engine opens with), without reporting it. */
    void readCurrent() {
        NetworkCapabilities capabilities = currentCapabilities();
        synchronized (lock) {
            reachable = hasInternet(capabilities);
            metered = meteredOf(capabilities);
        }
    }

    /** Whether the default network, as last read or reported, has Internet access. */
    boolean isReachable() {
        synchronized (lock) {
            return reachable;
        }
    }

    /** Whether the default network, as last read or reported, is metered (false while offline). */
    boolean isMetered() {
        synchronized (lock) {
            return metered;
        }
    }

    /** Reports every change of the default network from now on. */
    void start() {
        connectivity.registerDefaultNetworkCallback(this);
    }

    /** Reads the default network now and reports it if it changed (a callback may be late). */
    void poll() {
        changed(currentCapabilities());
    }

    @Override
    public void onAvailable(Network network) {
        // Android 8+ follows this at once with onCapabilitiesChanged, which
        // says whether the network is metered; before, read them here.
        if (Build.VERSION.SDK_INT < Build.VERSION_CODES.O) {
            changed(connectivity.getNetworkCapabilities(network));
        }
    }

    @Override
    public void onCapabilitiesChanged(Network network, NetworkCapabilities capabilities) {
        changed(capabilities);
    }

    @Override
    public void onLost(Network network) {
        // A new default network, if any, is reported by onAvailable.
        changed(null);
    }

    private NetworkCapabilities currentCapabilities() {
        Network network = connectivity.getActiveNetwork();
        return network == null ? null : connectivity.getNetworkCapabilities(network);
    }

    private void changed(NetworkCapabilities capabilities) {
        boolean nowReachable = hasInternet(capabilities);
        boolean nowMetered = meteredOf(capabilities);
        synchronized (lock) {
            if (nowReachable == reachable && nowMetered == metered) {
                return;
            }
            reachable = nowReachable;
            metered = nowMetered;
            // Under the lock, so that reports from two threads keep their order.
            listener.onNetworkChanged(nowReachable, nowMetered);
        }
    }

    private static boolean hasInternet(NetworkCapabilities capabilities) {
        return capabilities != null && capabilities.hasCapability(NetworkCapabilities.NET_CAPABILITY_INTERNET);
    }

    private static boolean meteredOf(NetworkCapabilities capabilities) {
        return hasInternet(capabilities)
                && !capabilities.hasCapability(NetworkCapabilities.NET_CAPABILITY_NOT_METERED);
    }
}
