// Compile-time stub (scripts/cordova-check.sh): the signatures the plugin's
// Java glue and cordova-android's framework sources use, as in the Android
// SDK / AndroidX / org.json. Never run.
package androidx.core.app;

public class NotificationCompat {
    public static class Builder {
        public Builder(android.content.Context context, String channelId) {}
        public Builder setContentTitle(CharSequence title) { return this; }
        public Builder setSmallIcon(int icon) { return this; }
        public Builder setOngoing(boolean ongoing) { return this; }
        public Builder setOnlyAlertOnce(boolean onlyAlertOnce) { return this; }
        public android.app.Notification build() { return null; }
    }
}
