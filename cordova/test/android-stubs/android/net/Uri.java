// Compile-time stub (scripts/cordova-check.sh): the signatures the plugin's
// Java glue and cordova-android's framework sources use, as in the Android
// SDK / AndroidX / org.json. Never run.
package android.net;

public abstract class Uri implements Comparable<Uri> {
    public static final class Builder {
        public Builder scheme(String scheme) { return this; }
        public Builder authority(String authority) { return this; }
        public Builder appendQueryParameter(String key, String value) { return this; }
        public Uri build() { return null; }
    }
    public abstract String getScheme();
    public abstract String getSchemeSpecificPart();
    public abstract String getPath();
    public abstract String getHost();
    public boolean isAbsolute() { return false; }
    public String getQueryParameter(String key) { return null; }
    public static Uri parse(String uriString) { return null; }
    public static Uri fromFile(java.io.File file) { return null; }
}
