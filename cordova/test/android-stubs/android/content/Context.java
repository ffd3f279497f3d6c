// Compile-time stub (scripts/cordova-check.sh): the signatures the plugin's
// Java glue and cordova-android's framework sources use, as in the Android
// SDK / AndroidX / org.json. Never run.
package android.content;

public abstract class Context {
    public static final int MODE_PRIVATE = 0;
    public Context getApplicationContext() { return this; }
    public java.io.File getFilesDir() { return null; }
    public SharedPreferences getSharedPreferences(String name, int mode) { return null; }
    public final <T> T getSystemService(Class<T> serviceClass) { return null; }
    public ContentResolver getContentResolver() { return null; }
    public android.content.res.AssetManager getAssets() { return null; }
}
