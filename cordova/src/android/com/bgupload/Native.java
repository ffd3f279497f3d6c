package com.bgupload;

/**
 * The JNI surface of the bgupload engine (libbgupload_ffi). Every method
 * returns null on success or an error message; none throws for an engine
 * error, a bad argument or a native panic.
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

    public static native String setNetworkReachable(boolean reachable);

    public static native String close();
}
