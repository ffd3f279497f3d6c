package com.bgupload.cordova;

import android.content.Context;
import android.content.SharedPreferences;
import android.util.Log;
import com.bgupload.EventListener;
import com.bgupload.Native;
import java.io.File;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.json.JSONException;
import org.json.JSONObject;

/**
 * The upload engine of this app process, shared by {@link BgUploadPlugin}
 * (the WebView's API) and {@link UploadWorker} (which keeps the process
 * running while uploads are pending).
 *
 * <p>The host is the engine's one event listener for the whole process: it
 * forwards each event to the WebView's callback when there is one, and
 * keeps the ids of the uploads that have not reached their terminal event
 * (saved in SharedPreferences, so that a worker in a new process knows
 * them). A page reload or {@code destroy()} only detaches the WebView's
 * callback: events keep reaching the host, and the engine delivers every
 * unacknowledged terminal event again on the next {@code init}.
 *
 * <p>Of the pending uploads it also keeps (saved alike) those paused and
 * those that need an unmetered network ({@code network: "unmetered"}, the
 * payload's or else the last init's), and the network as last reported:
 * the worker runs while some pending upload can go on, and the
 * {@link UploadWorker.UnmeteredWaker} waits for an unmetered network while
 * an upload needing one waits on a metered network (see
 * {@link UploadWorker}). The engine decides what actually runs; these sets
 * only decide what keeps the process alive.
 *
 * <p>Engine calls block until the engine answers; {@link #submit} runs
 * them one at a time, in order, off the WebView's threads. Error messages
 * this class makes itself begin with "the upload engine " or
 * "cannot open the upload engine", as the engine's own do (the plugin's JS
 * tells such failures from refused payloads by that).
 */
public final class BgUploadHost implements EventListener {
    /** Receives the events meant for the WebView. */
    interface EventReceiver {
        void onEvent(JSONObject event);
    }

    /** Subdirectory of the app's files directory holding the engine's store. */
    static final String DATA_DIR = "bgupload";
    static final String DEFAULT_NOTIFICATION_TITLE = "Uploading files";
    private static final String LIBRARY = "bgupload_ffi";
    private static final String PREFERENCES = "com.bgupload";
    private static final String KEY_PENDING = "pendingUploadIds";
    private static final String KEY_PAUSED = "pausedUploadIds";
    private static final String KEY_UNMETERED = "unmeteredUploadIds";
    private static final String KEY_CONFIG = "configJson";
    private static final String KEY_NOTIFICATION_TITLE = "notificationTitle";
    /** The value of an upload's (or the config's) {@code network} that keeps it off metered networks. */
    private static final String UNMETERED = "unmetered";
    private static final String TAG = "bgupload";

    private static BgUploadHost instance;

    private final Context context;
    private final SharedPreferences preferences;
    private final ExecutorService commands = Executors.newSingleThreadExecutor();
    private final Object lock = new Object();
    // Guarded by lock.
    private boolean open;
    private boolean listening;
    private EventReceiver receiver;
    private final Set<String> pending;
    /** Pending uploads paused by pauseUpload. */
    private final Set<String> paused;
    /** Pending uploads that may not use a metered network. */
    private final Set<String> unmetered;
    private NetworkMonitor network;
    private boolean networkMetered;
    private boolean networkReachable;
    private boolean workerRunning;

    private BgUploadHost(Context context) {
        this.context = context;
        preferences = context.getSharedPreferences(PREFERENCES, Context.MODE_PRIVATE);
        pending = new HashSet<>(preferences.getStringSet(KEY_PENDING, new HashSet<>()));
        paused = new HashSet<>(preferences.getStringSet(KEY_PAUSED, new HashSet<>()));
        unmetered = new HashSet<>(preferences.getStringSet(KEY_UNMETERED, new HashSet<>()));
        // Subsets of pending, also if a save was lost.
        paused.retainAll(pending);
        unmetered.retainAll(pending);
    }

    /** The host of this process. */
    static synchronized BgUploadHost get(Context context) {
        if (instance == null) {
            instance = new BgUploadHost(context.getApplicationContext());
        }
        return instance;
    }

    /** Runs {@code task} on the engine's command thread, after every earlier one. */
    void submit(Runnable task) {
        commands.execute(task);
    }

    /**
     * Opens the engine once per process (uploads left from an earlier run
     * resume) and starts reporting the network; null or the error.
     */
    String ensureOpen() {
        synchronized (lock) {
            if (open) {
                return null;
            }
            try {
                System.loadLibrary(LIBRARY);
            } catch (UnsatisfiedLinkError error) {
                return "the upload engine is not available: lib" + LIBRARY + ".so could not be loaded ("
                        + error.getMessage() + ")";
            }
            String error = Native.initAndroid(context);
            if (error != null) {
                return "cannot open the upload engine: " + error;
            }
            NetworkMonitor monitor = new NetworkMonitor(
                    context, (reachable, metered) -> submit(() -> networkChanged(reachable, metered)));
            monitor.readCurrent();
            String dataDir = new File(context.getFilesDir(), DATA_DIR).getPath();
            error = Native.open(dataDir, "{\"networkReachable\":" + monitor.isReachable()
                    + ",\"networkMetered\":" + monitor.isMetered() + "}");
            if (error != null) {
                return error;
            }
            network = monitor;
            networkReachable = monitor.isReachable();
            networkMetered = monitor.isMetered();
            monitor.start();
            open = true;
            scheduleLocked();
            return null;
        }
    }

    /**
     * {@code init(config, callback)}: events go to {@code next} from now on,
     * starting with every unacknowledged terminal event; null or the error.
     */
    String attach(String configJson, EventReceiver next) {
        String error = ensureOpen();
        if (error != null) {
            return error;
        }
        EventReceiver previous;
        synchronized (lock) {
            previous = receiver;
            receiver = next;
        }
        error = Native.init(configJson, this);
        synchronized (lock) {
            if (error != null) {
                if (receiver == next) {
                    receiver = previous;
                }
                return error;
            }
            listening = true;
        }
        preferences.edit().putString(KEY_CONFIG, configJson).apply();
        return null;
    }

    /** The WebView's callback is gone (destroy, page reload, activity end). */
    void detachReceiver() {
        synchronized (lock) {
            receiver = null;
        }
    }

    /** Makes sure this host hears the events when no WebView called init in this process. */
    String listenInBackground() {
        String error = ensureOpen();
        if (error != null) {
            return error;
        }
        synchronized (lock) {
            if (listening) {
                return null;
            }
        }
        // Not under the lock: init waits for an event call in progress,
        // which may be waiting for the lock in onEvent. The configuration is
        // the one the app gave last (init must not reset it to the defaults).
        error = Native.init(preferences.getString(KEY_CONFIG, null), this);
        if (error == null) {
            synchronized (lock) {
                listening = true;
            }
        }
        return error;
    }

    /** {@code startUpload(payload)}: null once the upload is durable, or the error. */
    String startUpload(String payloadJson) {
        String error = ensureOpen();
        if (error != null) {
            return error;
        }
        String id = null;
        String title = DEFAULT_NOTIFICATION_TITLE;
        String networkRequirement = null;
        if (payloadJson != null) {
            try {
                JSONObject payload = new JSONObject(payloadJson);
                id = payload.optString("id", null);
                title = payload.optString("notificationTitle", title);
                networkRequirement = payload.optString("network", null);
            } catch (JSONException unreadable) {
                // The engine refuses it with the reference message.
            }
        }
        // The engine refuses any other value; absent (or null), the last
        // init's default applies.
        boolean needsUnmetered = UNMETERED.equals(networkRequirement)
                || (!"any".equals(networkRequirement) && UNMETERED.equals(defaultNetworkRequirement()));
        // Pending before the engine has it: its terminal event may come
        // before Native.startUpload returns.
        boolean added;
        synchronized (lock) {
            added = id != null && pending.add(id);
        }
        error = Native.startUpload(payloadJson);
        synchronized (lock) {
            if (error != null) {
                if (added) {
                    pending.remove(id);
                }
                return error;
            }
            // Not if its terminal event came already.
            if (added && needsUnmetered && pending.contains(id)) {
                unmetered.add(id);
                saveLocked(KEY_UNMETERED, unmetered);
            }
            savePendingLocked();
            preferences.edit().putString(KEY_NOTIFICATION_TITLE, title).apply();
            scheduleLocked();
        }
        return null;
    }

    String removeUpload(String id) {
        String error = ensureOpen();
        return error != null ? error : Native.removeUpload(id);
    }

    /** {@code pauseUpload(id)}: a paused upload keeps no worker running. */
    String pauseUpload(String id) {
        String error = ensureOpen();
        if (error == null) {
            error = Native.pauseUpload(id);
        }
        if (error == null) {
            synchronized (lock) {
                // An unknown id, or one that ended meanwhile, changes nothing.
                if (pending.contains(id) && paused.add(id)) {
                    saveLocked(KEY_PAUSED, paused);
                    lock.notifyAll();
                }
            }
        }
        return error;
    }

    /** {@code resumeUpload(id)}: the worker runs again for it. */
    String resumeUpload(String id) {
        String error = ensureOpen();
        if (error == null) {
            error = Native.resumeUpload(id);
        }
        if (error == null) {
            synchronized (lock) {
                if (paused.remove(id)) {
                    saveLocked(KEY_PAUSED, paused);
                }
                scheduleLocked();
            }
        }
        return error;
    }

    String updateHeaders(String id, String headersJson) {
        String error = ensureOpen();
        return error != null ? error : Native.updateHeaders(id, headersJson);
    }

    /** {@code getUploads()}: the listing's JSON text, or {@code {"error": message}}. */
    String getUploads() {
        String error = ensureOpen();
        return error != null ? "{\"error\":" + JSONObject.quote(error) + "}" : Native.getUploads();
    }

    String acknowledgeEvent(String eventId) {
        String error = ensureOpen();
        return error != null ? error : Native.acknowledgeEvent(eventId);
    }

    /** Called by the engine's event thread. */
    @Override
    public void onEvent(String json) {
        JSONObject event;
        try {
            event = new JSONObject(json);
        } catch (JSONException notAnObject) {
            return;
        }
        EventReceiver target;
        synchronized (lock) {
            // UPLOADED and FAILED with an eventId end an upload.
            String id = event.optString("id");
            if (event.has("eventId") && pending.remove(id)) {
                savePendingLocked();
                if (paused.remove(id)) {
                    saveLocked(KEY_PAUSED, paused);
                }
                if (unmetered.remove(id)) {
                    saveLocked(KEY_UNMETERED, unmetered);
                    if (unmetered.isEmpty()) {
                        UploadWorker.cancelWhenUnmetered(context);
                    }
                }
                lock.notifyAll();
            }
            target = receiver;
        }
        if (target != null) {
            target.onEvent(event);
        }
    }

    /** The title of the upload notification: the last upload's notificationTitle. */
    String notificationTitle() {
        return preferences.getString(KEY_NOTIFICATION_TITLE, DEFAULT_NOTIFICATION_TITLE);
    }

    /** An {@link UploadWorker} runs (also when WorkManager started it on its own). */
    void workerStarted() {
        synchronized (lock) {
            workerRunning = true;
        }
    }

    /** The worker stops before the uploads ended (the system stopped it). */
    void workerStopped() {
        synchronized (lock) {
            workerRunning = false;
        }
    }

    /**
     * Waits up to {@code millis} for a change while some pending upload can
     * go on; false once none can (all ended, paused, or waiting for an
     * unmetered network on a metered one). The worker must then end: it is
     * counted as stopped already, so that the next upload, a resume or an
     * unmetered network starts a new one.
     */
    boolean awaitWork(long millis) throws InterruptedException {
        synchronized (lock) {
            if (canGoOnLocked()) {
                lock.wait(millis);
            }
            if (!canGoOnLocked()) {
                workerRunning = false;
                return false;
            }
            return true;
        }
    }

    /** Reads the network now (for the waker: its callback may come later); a change goes to the command thread. */
    void refreshNetwork() {
        NetworkMonitor monitor;
        synchronized (lock) {
            monitor = network;
        }
        if (monitor != null) {
            monitor.poll();
        }
    }

    /** Starts the worker or the waker as the pending uploads and the network need. */
    void schedule() {
        synchronized (lock) {
            scheduleLocked();
        }
    }

    /** On the command thread: the default network changed. */
    private void networkChanged(boolean reachable, boolean metered) {
        String error = Native.setNetwork(reachable, metered);
        if (error != null) {
            // The engine stopped: its next command reports it to the app.
            Log.w(TAG, "the upload engine did not take the network change: " + error);
        }
        synchronized (lock) {
            networkReachable = reachable;
            networkMetered = metered;
            scheduleLocked();
            lock.notifyAll();
        }
    }

    /** The default of later uploads' {@code network}: the last init's. */
    private String defaultNetworkRequirement() {
        String configJson = preferences.getString(KEY_CONFIG, null);
        if (configJson == null) {
            return null;
        }
        try {
            return new JSONObject(configJson).optString("network", null);
        } catch (JSONException unreadable) {
            return null;
        }
    }

    /**
     * Whether a pending upload can go on now: one not paused and, while the
     * network is metered, not needing an unmetered one. Offline counts as
     * able: the worker's own constraint (a connected network) holds it then.
     */
    private boolean canGoOnLocked() {
        for (String id : pending) {
            if (!paused.contains(id) && !(networkMetered && unmetered.contains(id))) {
                return true;
            }
        }
        return false;
    }

    /** Whether a pending upload, not paused, waits for an unmetered network on a metered one. */
    private boolean waitsForUnmeteredLocked() {
        if (!networkReachable || !networkMetered) {
            return false;
        }
        for (String id : unmetered) {
            if (!paused.contains(id)) {
                return true;
            }
        }
        return false;
    }

    private void scheduleLocked() {
        if (waitsForUnmeteredLocked()) {
            UploadWorker.enqueueWhenUnmetered(context);
        }
        if (canGoOnLocked()) {
            startWorkerLocked();
        }
    }

    private void startWorkerLocked() {
        if (!workerRunning) {
            workerRunning = true;
            UploadWorker.enqueue(context);
        }
    }

    private void savePendingLocked() {
        saveLocked(KEY_PENDING, pending);
    }

    private void saveLocked(String key, Set<String> ids) {
        preferences.edit().putStringSet(key, new HashSet<>(ids)).apply();
    }
}
