// Compile-time stub (scripts/cordova-check.sh): the signatures the plugin's
// Java glue and cordova-android's framework sources use, as in the Android
// SDK / AndroidX / org.json. Never run.
package androidx.work;

public abstract class ListenableWorker {
    public abstract static class Result {
        public static Result success() { return null; }
        public static Result retry() { return null; }
    }
    public ListenableWorker(android.content.Context appContext, WorkerParameters workerParams) {}
    public final android.content.Context getApplicationContext() { return null; }
    public final boolean isStopped() { return false; }
    public final com.google.common.util.concurrent.ListenableFuture<Void> setForegroundAsync(ForegroundInfo foregroundInfo) { return null; }
}
