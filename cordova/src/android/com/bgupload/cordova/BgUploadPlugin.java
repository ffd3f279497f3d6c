package com.bgupload.cordova;

import org.apache.cordova.CallbackContext;
import org.apache.cordova.CordovaPlugin;
import org.apache.cordova.PluginResult;
import org.json.JSONArray;
import org.json.JSONException;
import org.json.JSONObject;

/**
 * The Cordova service "BgUpload" behind www/FileTransferManager.js. Actions
 * (each argument a JSON text or an id, as the JS sends them):
 *
 * <ul>
 *   <li>{@code initManager [configJson]}: the callback is kept and receives
 *       every event as an object; an error ends it.
 *   <li>{@code startUpload [payloadJson]}, {@code removeUpload [id]},
 *       {@code acknowledgeEvent [eventId]}, {@code destroy []},
 *       {@code pauseUpload [id]}, {@code resumeUpload [id]},
 *       {@code updateHeaders [id, headersJson]}: one answer, success
 *       without a value or the error message.
 *   <li>{@code getUploads []}: one answer, the listing object
 *       ({@code {uploads, unacknowledgedEvents}}) or the error message.
 * </ul>
 *
 * <p>Every action runs on the host's command thread, in the order the
 * WebView sent them. A page reload and the end of the activity detach the
 * callback (the new page's init attaches its own and gets every
 * unacknowledged event again); uploads go on.
 */
public final class BgUploadPlugin extends CordovaPlugin {
    private BgUploadHost host;

    @Override
    protected void pluginInitialize() {
        host = BgUploadHost.get(cordova.getContext());
        // Loaded at startup (onload): uploads left from an earlier run resume.
        host.submit(host::ensureOpen);
    }

    @Override
    public boolean execute(String action, JSONArray args, CallbackContext callbackContext) {
        String argument = args.isNull(0) ? null : args.optString(0);
        switch (action) {
            case "initManager":
                host.submit(() -> initManager(argument, callbackContext));
                return true;
            case "startUpload":
                host.submit(() -> answer(callbackContext, host.startUpload(argument)));
                return true;
            case "removeUpload":
                host.submit(() -> answer(callbackContext, host.removeUpload(argument)));
                return true;
            case "acknowledgeEvent":
                host.submit(() -> answer(callbackContext, host.acknowledgeEvent(argument)));
                return true;
            case "pauseUpload":
                host.submit(() -> answer(callbackContext, host.pauseUpload(argument)));
                return true;
            case "resumeUpload":
                host.submit(() -> answer(callbackContext, host.resumeUpload(argument)));
                return true;
            case "updateHeaders": {
                String headersJson = args.isNull(1) ? null : args.optString(1);
                host.submit(() -> answer(callbackContext, host.updateHeaders(argument, headersJson)));
                return true;
            }
            case "getUploads":
                host.submit(() -> answerListing(callbackContext, host.getUploads()));
                return true;
            case "destroy":
                host.submit(() -> {
                    host.detachReceiver();
                    answer(callbackContext, null);
                });
                return true;
            default:
                return false;
        }
    }

    private void initManager(String configJson, CallbackContext callbackContext) {
        String error = host.attach(configJson, event -> {
            PluginResult result = new PluginResult(PluginResult.Status.OK, event);
            result.setKeepCallback(true);
            callbackContext.sendPluginResult(result);
        });
        if (error != null) {
            callbackContext.error(error);
        }
    }

    private static void answer(CallbackContext callbackContext, String error) {
        if (error == null) {
            callbackContext.success();
        } else {
            callbackContext.error(error);
        }
    }

    /** {@code listingJson}: the listing, or {@code {"error": message}}. */
    private static void answerListing(CallbackContext callbackContext, String listingJson) {
        JSONObject listing = null;
        if (listingJson != null) {
            try {
                listing = new JSONObject(listingJson);
            } catch (JSONException unreadable) {
                // Reported below.
            }
        }
        if (listing == null) {
            callbackContext.error("the upload engine answered getUploads with no JSON object: " + listingJson);
            return;
        }
        if (listing.has("error")) {
            callbackContext.error(listing.optString("error"));
        } else {
            callbackContext.success(listing);
        }
    }

    /** The page is reloading or navigating: its callback is gone. */
    @Override
    public void onReset() {
        host.submit(host::detachReceiver);
    }

    @Override
    public void onDestroy() {
        host.submit(host::detachReceiver);
    }
}
