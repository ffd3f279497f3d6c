// Compile-time stub (scripts/cordova-check.sh): the signatures the plugin's
// Java glue and cordova-android's framework sources use, as in the Android
// SDK / AndroidX / org.json. Never run.
package org.json;

public class JSONArray {
    public JSONArray(String json) throws JSONException {}
    public int length() { return 0; }
    public Object get(int index) throws JSONException { return null; }
    public Object opt(int index) { return null; }
    public boolean isNull(int index) { return false; }
    public String getString(int index) throws JSONException { return null; }
    public String optString(int index) { return null; }
    public boolean getBoolean(int index) throws JSONException { return false; }
    public double getDouble(int index) throws JSONException { return 0; }
    public int getInt(int index) throws JSONException { return 0; }
    public long getLong(int index) throws JSONException { return 0; }
    public JSONArray getJSONArray(int index) throws JSONException { return null; }
    public JSONObject getJSONObject(int index) throws JSONException { return null; }
    public boolean optBoolean(int index) { return false; }
    public double optDouble(int index) { return 0; }
    public int optInt(int index) { return 0; }
    public long optLong(int index) { return 0; }
    public JSONArray optJSONArray(int index) { return null; }
    public JSONObject optJSONObject(int index) { return null; }
}
