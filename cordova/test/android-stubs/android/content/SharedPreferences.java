// Compile-time stub (scripts/cordova-check.sh): the signatures the plugin's
// Java glue and cordova-android's framework sources use, as in the Android
// SDK / AndroidX / org.json. Never run.
package android.content;

public interface SharedPreferences {
    interface Editor {
        Editor putString(String key, String value);
        Editor putStringSet(String key, java.util.Set<String> values);
        Editor remove(String key);
        void apply();
    }
    String getString(String key, String defValue);
    java.util.Set<String> getStringSet(String key, java.util.Set<String> defValues);
    boolean contains(String key);
    Editor edit();
}
