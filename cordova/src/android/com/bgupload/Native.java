package com.bgupload;

/**
 * The JNI surface of the bgupload engine (libbgupload_ffi). Every method
 * but {@link #getUploads} returns null on success or an error message; none
 * throws for an engine error, a bad argument or a native panic.
 */
public final class Native {
    private Native() {}

    /**
     * Android: call once with the application Context before open (HTTPS
     * certificate checks use the platform verifier). Elsewhere a no-op.
     */
    public static native String initAndroid(Object context);

    public static native String open(String dataDir, String optionsJson);

    public static native String init(String configJson, EventListener listener);

    public static native String startUpload(String payloadJson);

    public static native String removeUpload(String id);

    public static native String acknowledgeEvent(String eventId);

    public static native String destroy();

    /** Stops the upload's attempt and holds it until {@link #resumeUpload}; an unknown id succeeds. */
    public static native String pauseUpload(String id);

    /** Queues a paused upload again; an unknown id succeeds. */
    public static native String resumeUpload(String id);

    /** Replaces the upload's headers (a JSON object) for every later attempt. */
    public static native String updateHeaders(String id, String headersJson);

    /**
     * The listing's JSON text ({@code {"uploads": [...], "unacknowledgedEvents": n}}),
     * or {@code {"error": message}} (a listing has no "error" field).
     */
    public static native String getUploads();

    /** The default network is reachable and unmetered (or not reachable). */
    public static native String setNetworkReachable(boolean reachable);

    /** The default network: reachable, and metered (cellular, a hotspot). */
    public static native String setNetwork(boolean reachable, boolean metered);

    public static native String close();
}
