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
import org.json.JSONArray;
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
 * <p>What keeps the process alive is the engine's to say, as it owns every
 * upload's state: the host asks it ({@code getUploads}, see
 * {@link WorkOutlook}) after each change it hears of (an upload accepted,
 * paused, resumed or ended, a network change), and the worker asks again
 * on every wake. The worker runs while some upload can go on, and the
 * {@link UploadWorker.UnmeteredWaker} waits for an unmetered network while
 * an upload waits on a metered one (see {@link UploadWorker}). Of the
 * uploads the host keeps only the pending ids, and of the network what was
 * last reported.
 *
 * <p>Engine calls block until the engine answers; {@link #submit} runs
 * them one at a time, in order, off the WebView's threads. Once events can
 * come, no engine call is made under {@code lock}, nor on the engine's
 * event thread: that thread takes {@code lock} in {@link #onEvent}, and an
 * engine call may wait for it (init waits for an event call in progress).
 * Error messages this class makes itself begin with "the upload engine "
 * or "cannot open the upload engine", as the engine's own do (the plugin's
 * JS tells such failures from refused payloads by that).
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
    /**
     * Keys an earlier version saved: its own copies of the paused uploads
     * and of those needing an unmetered network. The engine is asked now;
     * see {@link #removeStaleKeys}.
     */
    private static final String STALE_KEY_PAUSED = "pausedUploadIds";
    private static final String STALE_KEY_UNMETERED = "unmeteredUploadIds";
    /** States of the engine's listing that may keep no worker running (see {@link #outlookOfLocked}). */
    private static final String STATE_PAUSED = "paused";
    private static final String STATE_WAITING_FOR_NETWORK = "waiting-for-network";
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
    private NetworkMonitor network;
    private boolean networkMetered;
    private boolean networkReachable;
    private boolean workerRunning;
    /** False once the waker is cancelled, until it is enqueued again (an earlier process may have left one). */
    private boolean wakerMayWait = true;
    /**
     * Counts the changes the worker must hear of (see {@link #changedLocked}):
     * a worker whose question to the engine overlapped one asks again
     * before it stops.
     */
    private long changes;
    /** The engine's last answer to getUploads was no listing (logged once until it lists again). */
    private boolean listingFailing;

    private BgUploadHost(Context context) {
        this.context = context;
        preferences = context.getSharedPreferences(PREFERENCES, Context.MODE_PRIVATE);
        pending = new HashSet<>(preferences.getStringSet(KEY_PENDING, new HashSet<>()));
        removeStaleKeys();
    }

    /**
     * The first start after an upgrade from the version that kept its own
     * paused and unmetered sets removes them: nothing reads them any more.
     */
    private void removeStaleKeys() {
        if (preferences.contains(STALE_KEY_PAUSED) || preferences.contains(STALE_KEY_UNMETERED)) {
            preferences.edit().remove(STALE_KEY_PAUSED).remove(STALE_KEY_UNMETERED).apply();
        }
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
            // The engine lists its uploads only once initialised: until then
            // pending ones start the worker, which inits and asks the engine
            // (and ends before its notification if none can go on).
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
        // The engine answers getUploads from now on.
        schedule();
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
            // The engine answers getUploads from now on.
            schedule();
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
        }
        changed();
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
            changed();
        }
        return error;
    }

    /** {@code resumeUpload(id)}: the worker runs again for it (unless it waits for a network). */
    String resumeUpload(String id) {
        String error = ensureOpen();
        if (error == null) {
            error = Native.resumeUpload(id);
        }
        if (error == null) {
            changed();
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
        boolean ended = false;
        synchronized (lock) {
            // UPLOADED and FAILED with an eventId end an upload.
            String id = event.optString("id");
            if (event.has("eventId") && pending.remove(id)) {
                savePendingLocked();
                changedLocked();
                ended = true;
            }
            target = receiver;
        }
        if (ended) {
            // The engine is asked from the command thread, never from this
            // one (see the class comment): the waker may be unneeded now.
            submit(this::schedule);
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
     * Whether some upload can go on, as the engine says now; false once
     * none can (all ended, paused, or waiting for a network they may use
     * while the network is up). The worker must then end: it is counted as
     * stopped already, so that the next upload, a resume or a network
     * change starts a new one. The waker is scheduled from the same answer:
     * an upload may have turned to waiting for an unmetered network without
     * a change the host hears of (its backoff ended).
     */
    boolean hasWork() {
        long asked;
        synchronized (lock) {
            asked = changes;
        }
        WorkOutlook outlook = outlook();
        synchronized (lock) {
            // After a change while the engine answered, the answer may be
            // stale: the worker asks again after its next wait.
            if (outlook.canGoOn || changes != asked) {
                return true;
            }
            workerRunning = false;
            scheduleWakerLocked(outlook);
            return false;
        }
    }

    /**
     * Waits up to {@code millis} for a change (an upload accepted, paused,
     * resumed or ended, a network change), then asks the engine again: see
     * {@link #hasWork}.
     */
    boolean awaitWork(long millis) throws InterruptedException {
        synchronized (lock) {
            lock.wait(millis);
        }
        return hasWork();
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

    /**
     * Starts the worker and enqueues or cancels the waker as the engine's
     * uploads and the network need. Asks the engine: not under
     * {@code lock}, not on the engine's event thread.
     */
    void schedule() {
        WorkOutlook outlook = outlook();
        synchronized (lock) {
            scheduleWakerLocked(outlook);
            if (outlook.canGoOn) {
                startWorkerLocked();
            }
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
            changedLocked();
        }
        schedule();
    }

    /** After a command that changed what can go on: the worker hears of it, and the host schedules. */
    private void changed() {
        synchronized (lock) {
            changedLocked();
        }
        schedule();
    }

    /** What can go on may have changed: a waiting worker asks the engine again (see {@link #hasWork}). */
    private void changedLocked() {
        changes++;
        lock.notifyAll();
    }

    /**
     * What the engine's listing says the process needs, read with the
     * network as last reported. When the engine cannot answer (not
     * initialised yet, stopped), the pending ids decide as they did before
     * the engine could be asked: any keeps the worker, and the waker is
     * left as it is unless none is pending. Asks the engine: not under
     * {@code lock}, not on the engine's event thread.
     */
    private WorkOutlook outlook() {
        String listingJson = Native.getUploads();
        JSONArray uploads = uploadsOf(listingJson);
        synchronized (lock) {
            if (uploads != null) {
                listingFailing = false;
                return outlookOfLocked(uploads);
            }
            // Once, not on every wake of the worker.
            if (!listingFailing) {
                listingFailing = true;
                Log.w(TAG, "the upload engine did not list its uploads (" + listingJson
                        + "); the pending ids decide what keeps the app running");
            }
            boolean anyPending = !pending.isEmpty();
            return new WorkOutlook(anyPending, false, !anyPending);
        }
    }

    /** The unfinished uploads of a getUploads answer; null for {@code {"error": ...}} or unreadable text. */
    private static JSONArray uploadsOf(String listingJson) {
        if (listingJson == null) {
            return null;
        }
        try {
            JSONObject listing = new JSONObject(listingJson);
            return listing.has("error") ? null : listing.optJSONArray("uploads");
        } catch (JSONException unreadable) {
            return null;
        }
    }

    /**
     * An upload can go on unless it is paused or waiting for a network it
     * may use. While offline, one waiting for a network counts as able: the
     * worker's own constraint (a connected network) holds the worker then,
     * and WorkManager runs it again when a network comes, also if the
     * process was gone. On a metered network, one waiting needs an
     * unmetered network (a metered one is all it lacks); none waiting there
     * means none needs one, as does an empty listing.
     */
    private WorkOutlook outlookOfLocked(JSONArray uploads) {
        boolean onMetered = networkReachable && networkMetered;
        boolean canGoOn = false;
        boolean waitsForNetwork = false;
        for (int index = 0; index < uploads.length(); index++) {
            JSONObject upload = uploads.optJSONObject(index);
            // A state this host does not know counts as able to go on.
            String state = upload == null ? null : upload.optString("state", null);
            if (STATE_WAITING_FOR_NETWORK.equals(state)) {
                waitsForNetwork = true;
                canGoOn |= !networkReachable;
            } else if (!STATE_PAUSED.equals(state)) {
                canGoOn = true;
            }
        }
        boolean needsUnmetered = onMetered && waitsForNetwork;
        boolean wakerUnneeded = uploads.length() == 0 || (onMetered && !waitsForNetwork);
        return new WorkOutlook(canGoOn, needsUnmetered, wakerUnneeded);
    }

    private void scheduleWakerLocked(WorkOutlook outlook) {
        if (outlook.needsUnmetered) {
            UploadWorker.enqueueWhenUnmetered(context);
            wakerMayWait = true;
        } else if (outlook.wakerUnneeded && wakerMayWait) {
            UploadWorker.cancelWhenUnmetered(context);
            wakerMayWait = false;
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

    /** What the engine's listing says the process needs (see {@link #outlook}). */
    private static final class WorkOutlook {
        /** Some upload can go on: the worker runs. */
        final boolean canGoOn;
        /** Some upload waits for an unmetered network on a metered one: the waker waits for one. */
        final boolean needsUnmetered;
        /** No upload can be waiting for an unmetered network: the waker is cancelled. */
        final boolean wakerUnneeded;

        WorkOutlook(boolean canGoOn, boolean needsUnmetered, boolean wakerUnneeded) {
            this.canGoOn = canGoOn;
            this.needsUnmetered = needsUnmetered;
            this.wakerUnneeded = wakerUnneeded;
        }
    }
}
