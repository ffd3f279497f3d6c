// Compile-time stub (scripts/cordova-check.sh): the signatures the plugin's
// Java glue and cordova-android's framework sources use, as in the Android
// SDK / AndroidX / org.json. Never run.
package androidx.work;

public abstract class WorkManager {
    public static WorkManager getInstance(android.content.Context context) { return null; }
    public abstract Object enqueueUniqueWork(String uniqueWorkName, ExistingWorkPolicy existingWorkPolicy, OneTimeWorkRequest work);
    public abstract Object cancelUniqueWork(String uniqueWorkName);
}
