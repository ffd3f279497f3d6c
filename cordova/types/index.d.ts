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
    /** A unique id of the upload (UUID string). */
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
    id: string;
    /** 0 to 100. */
    progress: number;
    eventId?: undefined;
}

/** The server answered (any HTTP status). Persisted until acknowledged. */
export interface UploadedEvent {
    state: 'UPLOADED';
    id: string;
    eventId: number;
    statusCode: number;
    /** The response body as text ("" when empty). */
    serverResponse: string;
}

/** The upload failed for good, or was removed (errorCode -999). Persisted until acknowledged. */
export interface FailedEvent {
    state: 'FAILED';
    id: string;
    eventId: number;
    error: string;
    errorCode: number;
}

/**
 * A refused call: invalid startUpload settings (with `id` when the settings
 * had one), or an engine error. Not persisted, no eventId.
 */
export interface RefusedEvent {
    state: 'FAILED';
    id?: string;
    error: string;
    eventId?: undefined;
    errorCode?: undefined;
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
    /** Removes a delivered event for good; an unknown id succeeds. */
    acknowledgeEvent(eventId: number, success?: () => void, error?: (error: UploaderError) => void): void;
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
