// Compile-time stub (scripts/cordova-check.sh): the signatures the plugin's
// Java glue and cordova-android's framework sources use, as in the Android
// SDK / AndroidX / org.json. Never run.
package android.database;

public interface Cursor extends java.io.Closeable {
    int getCount();
    boolean moveToFirst();
    int getColumnIndex(String columnName);
    String getString(int columnIndex);
    void close();
}
