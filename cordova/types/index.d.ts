// Types of cordova-plugin-bgupload: the JS API of
// cordova-plugin-background-upload (window.FileTransferManager).

/** `FileTransferManager.init` configuration. Every field is optional. */
export interface UploaderConfig {
    /** Transfers in flight at most, across all hosts; 1 when falsy (default 1, at most 64). */
    parallelUploadsLimit?: number;
    /** Attempts per upload before FAILED, transport errors only (bgupload; default 10). */
    maxAttempts?: number;
    /** First retry delay in ms, doubled after each failure (bgupload; default 1000). */
    initialBackoffMillis?: number;
    /** Longest retry delay in ms (bgupload; default 300000). */
    maxBackoffMillis?: number;
    /** Shortest time in ms between two UPLOADING events of one upload (bgupload; default 500). */
    progressIntervalMillis?: number;
}

/** A header or multipart parameter value; numbers and booleans are sent as text. */
export type FieldValue = string | number | boolean;

/** `startUpload` settings. */
export interface UploadPayload {
    /**
     * The app's id of the upload: any non-empty string (at most 1024 bytes of
     * UTF-8, no control characters), echoed unchanged in its events. Unique
     * among uploads in progress or with an unacknowledged event.
     */
    id: string;
    /** The file: an absolute path, or a file:// URL (percent-encoded). */
    filePath: string;
    /** http:// or https:// URL to upload to. */
    serverUrl: string;
    /** Name of the multipart file part (default "file"). */
    fileKey?: string;
    /** Custom HTTP headers. */
    headers?: Record<string, FieldValue>;
    /** Text fields sent before the file part, in this order. */
    parameters?: Record<string, FieldValue>;
    /** Android notification title (default "Uploading files"). */
    notificationTitle?: string;
    /** Default POST. */
    requestMethod?: 'POST' | 'PUT';
    /** "multipart" (default) or "raw" (the file's bytes as the whole body; bgupload). */
    uploadType?: 'multipart' | 'raw';
}

/** Progress of an upload in flight; never persisted, no eventId. */
export interface UploadingEvent {
    state: 'UPLOADING';
    /** The upload's `id`, as given to `startUpload`. */
    id: string;
    /** 0 to 100. */
    progress: number;
    /** Never present: progress is not acknowledged. */
    eventId?: undefined;
}

/** The server answered (any HTTP status). Persisted until acknowledged. */
export interface UploadedEvent {
    state: 'UPLOADED';
    /** The upload's `id`, as given to `startUpload`. */
    id: string;
    /**
     * The event's id, for `acknowledgeEvent`: a string of decimal digits
     * (e.g. "7"), the same on every delivery of this event.
     */
    eventId: string;
    /** The HTTP status of the server's answer (any status, 2xx or not). */
    statusCode: number;
    /** The response body as text ("" when empty). */
    serverResponse: string;
}

/** The upload failed for good, or was removed (errorCode -999). Persisted until acknowledged. */
export interface FailedEvent {
    state: 'FAILED';
    /** The upload's `id`, as given to `startUpload`. */
    id: string;
    /**
     * The event's id, for `acknowledgeEvent`: a string of decimal digits
     * (e.g. "7"), the same on every delivery of this event.
     */
    eventId: string;
    /** What went wrong, as text. */
    error: string;
    /** Always present here: the cause's code (-999 when removed). */
    errorCode: number;
}

/**
 * A refused call: invalid startUpload settings (with `id` when the settings
 * had one), or an engine error. Not persisted, no eventId.
 */
export interface RefusedEvent {
    state: 'FAILED';
    /** The settings' `id`, when they had one. */
    id?: string;
    /** Why the call was refused, as text. */
    error: string;
    /** Never present: a refusal is not persisted nor acknowledged. */
    eventId?: undefined;
    /**
     * The cause's code, on every refusal the engine makes; absent on the
     * reference plugin's own five messages (settings missing, `Upload ID is
     * required`, `Server URL is required`, `Invalid server URL`, `filePath is
     * required`) and on errors of an engine that could not take the call.
     */
    errorCode?: number;
}

export type UploadEvent = UploadingEvent | UploadedEvent | FailedEvent | RefusedEvent;

/** What an error callback receives. */
export interface UploaderError {
    error: string;
}

export type EventHandler = (event: UploadEvent) => void;

export interface Uploader {
    /** Adds an upload; the outcome (or a refusal) comes as events. */
    startUpload(payload: UploadPayload): void;
    /** Cancels and removes an upload (FAILED, errorCode -999); an unknown id succeeds. */
    removeUpload(id: string, success?: () => void, error?: (error: UploaderError) => void): void;
    /**
     * Removes a delivered event for good; an unknown id succeeds. `eventId`
     * is an event's `eventId` (a string); a number is accepted too, as text.
     */
    acknowledgeEvent(eventId: string | number, success?: () => void, error?: (error: UploaderError) => void): void;
    /** Stops delivering events to this callback; uploads go on. */
    destroy(success?: () => void, error?: (error: UploaderError) => void): void;
}

export interface FileTransferManagerStatic {
    /**
     * Registers `callback` for every event (replacing any earlier one) and
     * delivers every unacknowledged event again. Throws
     * `Error('event handler must be a function')`.
     */
    init(config: UploaderConfig | undefined | null, callback: EventHandler): Uploader;
}

declare global {
    interface Window {
        FileTransferManager: FileTransferManagerStatic;
    }
    const FileTransferManager: FileTransferManagerStatic;
}
