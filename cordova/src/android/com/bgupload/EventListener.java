package com.bgupload;

/** Receives every event of the engine as the reference plugin's JSON object text. */
public interface EventListener {
    /** Called on the engine's event thread, in order. */
    void onEvent(String json);
}
