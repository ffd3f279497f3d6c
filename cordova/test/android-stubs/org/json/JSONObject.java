// Compile-time stub (scripts/cordova-check.sh): the signatures the plugin's
// Java glue and cordova-android's framework sources use, as in the Android
// SDK / AndroidX / org.json. Never run.
package org.json;

public class JSONObject {
    public JSONObject(String json) throws JSONException {}
    public boolean has(String name) { return false; }
    public String optString(String name) { return null; }
    public String optString(String name, String fallback) { return null; }
    public JSONArray optJSONArray(String name) { return null; }
    public static String quote(String data) { return null; }
}
