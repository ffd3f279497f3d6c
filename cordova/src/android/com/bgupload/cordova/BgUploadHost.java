package com.bgupload.cordova;

import android.content.Context;
import android.content.SharedPreferences;
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
    private static final String KEY_CONFIG = "configJson";
    private static final String KEY_NOTIFICATION_TITLE = "notificationTitle";

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
    private boolean workerRunning;

    private BgUploadHost(Context context) {
        this.context = context;
        preferences = context.getSharedPreferences(PREFERENCES, Context.MODE_PRIVATE);
        pending = new HashSet<>(preferences.getStringSet(KEY_PENDING, new HashSet<>()));
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
            NetworkMonitor network =
                    new NetworkMonitor(context, reachable -> submit(() -> Native.setNetworkReachable(reachable)));
            String dataDir = new File(context.getFilesDir(), DATA_DIR).getPath();
            error = Native.open(dataDir, "{\"networkReachable\":" + network.isReachable() + "}");
            if (error != null) {
                return error;
            }
            network.start();
            open = true;
            if (!pending.isEmpty()) {
                startWorkerLocked();
            }
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
        if (payloadJson != null) {
            try {
                JSONObject payload = new JSONObject(payloadJson);
                id = payload.optString("id", null);
                title = payload.optString("notificationTitle", title);
            } catch (JSONException unreadable) {
                // The engine refuses it with the reference message.
            }
        }
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
            savePendingLocked();
            preferences.edit().putString(KEY_NOTIFICATION_TITLE, title).apply();
            startWorkerLocked();
        }
        return null;
    }

    String removeUpload(String id) {
        String error = ensureOpen();
        return error != null ? error : Native.removeUpload(id);
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
            if (event.has("eventId") && pending.remove(event.optString("id"))) {
                savePendingLocked();
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
     * Waits up to {@code millis} while {@code known} uploads are pending;
     * returns how many are. At 0 the worker must end: it is counted as
     * stopped already, so that the next upload starts a new one.
     */
    int awaitPending(int known, long millis) throws InterruptedException {
        synchronized (lock) {
            if (!pending.isEmpty() && pending.size() == known) {
                lock.wait(millis);
            }
            if (pending.isEmpty()) {
                workerRunning = false;
            }
            return pending.size();
        }
    }

    private void startWorkerLocked() {
        if (!workerRunning) {
            workerRunning = true;
            UploadWorker.enqueue(context);
        }
    }

    private void savePendingLocked() {
        preferences.edit().putStringSet(KEY_PENDING, new HashSet<>(pending)).apply();
    }
}
