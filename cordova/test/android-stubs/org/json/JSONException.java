// Compile-time stub (scripts/cordova-check.sh): the signatures the plugin's
// Java glue and cordova-android's framework sources use, as in the Android
// SDK / AndroidX / org.json. Never run.
package org.json;

public class JSONException extends Exception {
    private static final long serialVersionUID = 1L;
}
