package com.bgupload.cordova;

import android.app.Notification;
import android.app.NotificationChannel;
import android.app.NotificationManager;
import android.content.Context;
import android.content.pm.ServiceInfo;
import android.os.Build;
import android.util.Log;
import androidx.annotation.NonNull;
import androidx.core.app.NotificationCompat;
import androidx.work.Constraints;
import androidx.work.ExistingWorkPolicy;
import androidx.work.ForegroundInfo;
import androidx.work.NetworkType;
import androidx.work.OneTimeWorkRequest;
import androidx.work.WorkManager;
import androidx.work.Worker;
import androidx.work.WorkerParameters;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Keeps the app process running while uploads are pending, so that the
 * engine (which runs the transfers itself, in this process) can finish them
 * after the app goes to the background or its activity is closed.
 *
 * <p>Policy: one unique work, enqueued when an upload is accepted (or found
 * pending at start), needing a connected network (without one the engine
 * holds the uploads anyway). It asks to run as a foreground service of type
 * dataSync with a notification titled by the upload's notificationTitle.
 * Android 12+ refuses that when the app is in the background at that
 * moment; the worker then runs as a plain worker (the system may stop it
 * after about 10 minutes and run it again later). Android 15 limits dataSync
 * services to 6 hours a day. When the system stops the worker, WorkManager
 * runs it again when its constraints allow; it ends once every pending
 * upload has its terminal event.
 *
 * <p>It also ends while no upload can go on, as the engine's listing says
 * ({@code getUploads}, asked on every wake): every one is paused, or
 * waits for a network it may use while the network is up (one with
 * {@code network: "unmetered"} on a metered network). Offline, it keeps
 * running: its own constraint holds it. {@link BgUploadHost} starts it
 * again on {@code resumeUpload}, on a new upload and on a network change.
 * For an unmetered network coming while the process is gone, the host also
 * enqueues {@link UnmeteredWaker} (its own unique work, needing
 * {@link NetworkType#UNMETERED}) whenever the engine lists an upload
 * waiting on a metered network: WorkManager then starts the app when Wi-Fi
 * (or another unmetered network) comes, the waker opens the engine and the
 * engine starts those uploads. The waker is cancelled once the engine lists
 * no upload at all, or none waiting on a metered network.
 */
public final class UploadWorker extends Worker {
    static final String WORK_NAME = "com.bgupload.uploads";
    static final String UNMETERED_WORK_NAME = "com.bgupload.uploads.unmetered";
    private static final String CHANNEL_ID = "com.bgupload.uploads";
    private static final String CHANNEL_NAME = "Uploads";
    private static final int NOTIFICATION_ID = 0x62677570;
    /** How often the worker asks the engine again and looks whether it was stopped. */
    private static final long WAIT_MILLIS = 1_000;
    /** Longest wait of the waker for the engine's command thread. */
    private static final long WAKER_WAIT_SECONDS = 30;
    private static final String TAG = "bgupload";

    public UploadWorker(@NonNull Context context, @NonNull WorkerParameters parameters) {
        super(context, parameters);
    }

    /** Starts the worker, replacing one that is ending. */
    static void enqueue(Context context) {
        Constraints constraints = new Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build();
        OneTimeWorkRequest request =
                new OneTimeWorkRequest.Builder(UploadWorker.class).setConstraints(constraints).build();
        WorkManager.getInstance(context).enqueueUniqueWork(WORK_NAME, ExistingWorkPolicy.REPLACE, request);
    }

    /**
     * Has WorkManager start the app when an unmetered network comes
     * (replacing a waker already waiting, or one that is ending).
     */
    static void enqueueWhenUnmetered(Context context) {
        Constraints constraints = new Constraints.Builder().setRequiredNetworkType(NetworkType.UNMETERED).build();
        OneTimeWorkRequest request =
                new OneTimeWorkRequest.Builder(UnmeteredWaker.class).setConstraints(constraints).build();
        WorkManager.getInstance(context)
                .enqueueUniqueWork(UNMETERED_WORK_NAME, ExistingWorkPolicy.REPLACE, request);
    }

    /** No upload waits for an unmetered network any more. */
    static void cancelWhenUnmetered(Context context) {
        WorkManager.getInstance(context).cancelUniqueWork(UNMETERED_WORK_NAME);
    }

    @NonNull
    @Override
    public Result doWork() {
        BgUploadHost host = BgUploadHost.get(getApplicationContext());
        host.workerStarted();
        String error = host.listenInBackground();
        if (error != null) {
            Log.w(TAG, "cannot follow the uploads: " + error);
            host.workerStopped();
            return Result.retry();
        }
        // No notification for nothing: the worker may have been started
        // for uploads the engine holds (paused, waiting for a network).
        if (!host.hasWork()) {
            return Result.success();
        }
        runInForeground(host.notificationTitle());
        try {
            while (!isStopped()) {
                if (!host.awaitWork(WAIT_MILLIS)) {
                    return Result.success();
                }
            }
        } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
        }
        host.workerStopped();
        return Result.retry();
    }

    private void runInForeground(String title) {
        try {
            setForegroundAsync(foregroundInfo(title)).get();
        } catch (ExecutionException | IllegalStateException refused) {
            // Android 12+: no foreground service from the background.
            Log.i(TAG, "uploads continue without a foreground service: " + refused);
        } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private ForegroundInfo foregroundInfo(String title) {
        Context context = getApplicationContext();
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.O) {
            NotificationManager notifications = context.getSystemService(NotificationManager.class);
            notifications.createNotificationChannel(
                    new NotificationChannel(CHANNEL_ID, CHANNEL_NAME, NotificationManager.IMPORTANCE_LOW));
        }
        Notification notification = new NotificationCompat.Builder(context, CHANNEL_ID)
                .setContentTitle(title)
                .setSmallIcon(android.R.drawable.stat_sys_upload)
                .setOngoing(true)
                .setOnlyAlertOnce(true)
                .build();
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.Q) {
            return new ForegroundInfo(NOTIFICATION_ID, notification, ServiceInfo.FOREGROUND_SERVICE_TYPE_DATA_SYNC);
        }
        return new ForegroundInfo(NOTIFICATION_ID, notification);
    }

    /**
     * Runs once an unmetered network is there (see the class comment): opens
     * the engine if this process had not, reports the network as it is now
     * (the connectivity callback may come later) and starts the upload
     * worker when the engine lists an upload that can go on. It keeps
     * nothing running itself.
     */
    public static final class UnmeteredWaker extends Worker {
        public UnmeteredWaker(@NonNull Context context, @NonNull WorkerParameters parameters) {
            super(context, parameters);
        }

        @NonNull
        @Override
        public Result doWork() {
            BgUploadHost host = BgUploadHost.get(getApplicationContext());
            String error = host.listenInBackground();
            if (error != null) {
                Log.w(TAG, "cannot resume the uploads waiting for an unmetered network: " + error);
                return Result.retry();
            }
            // A change goes to the command thread first, then the scheduling.
            host.refreshNetwork();
            CountDownLatch scheduled = new CountDownLatch(1);
            host.submit(() -> {
                host.schedule();
                scheduled.countDown();
            });
            try {
                if (!scheduled.await(WAKER_WAIT_SECONDS, TimeUnit.SECONDS)) {
                    Log.w(TAG, "the upload engine did not take the network report in time");
                }
            } catch (InterruptedException interrupted) {
                Thread.currentThread().interrupt();
            }
            return Result.success();
        }
    }
}
