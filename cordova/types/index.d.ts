// Types of cordova-plugin-bgupload: the JS API of
// cordova-plugin-background-upload (window.FileTransferManager).

/**
 * Which HTTP answers end an upload as UPLOADED (bgupload):
 * - `'any'` (default, the reference's rule): any HTTP status.
 * - `'standard'`: 2xx is UPLOADED; 408, 425, 429, 500, 502, 503 and 504 are
 *   retried with backoff (counted against `maxAttempts`, waiting at least the
 *   server's `Retry-After`, at most `maxBackoffMillis`); any other status is
 *   FAILED with `errorCode` = the status ({@link FailedByServerEvent}).
 */
export type StatusPolicy = 'any' | 'standard';

/**
 * Which networks an upload may use (bgupload): `'any'` (default), or
 * `'unmetered'`: never a metered one (cellular, a hotspot). An unmetered
 * upload waits on a metered network without spending attempts or holding a
 * parallel slot; a running one stops (uncounted) when the network turns
 * metered, and starts again on an unmetered one.
 */
export type NetworkRequirement = 'any' | 'unmetered';

/**
 * The fields an upload and the `init` configuration both have (bgupload):
 * the configuration's are the defaults of uploads started after that
 * `init`; an upload's own override them.
 */
export interface UploadPolicy {
    /** Default `'any'`. */
    statusPolicy?: StatusPolicy;
    /**
     * Send `Idempotency-Key: "<UUID v4>"` (quotes included) on every attempt:
     * drawn once per upload, the same across attempts and relaunches (default
     * false). The app's own `Idempotency-Key` header is then refused (-4001).
     */
    idempotencyKey?: boolean;
    /** Default `'any'`. */
    network?: NetworkRequirement;
}

/** `FileTransferManager.init` configuration. Every field is optional. */
export interface UploaderConfig extends UploadPolicy {
    /** Transfers in flight at most, across all hosts; 1 when falsy (default 1, at most 64). */
    parallelUploadsLimit?: number;
    /**
     * Attempts per upload before FAILED: transport errors and, under
     * `statusPolicy: 'standard'`, retried statuses (bgupload; default 10).
     */
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
export interface UploadPayload extends UploadPolicy {
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

/**
 * The server answered: any HTTP status, or a 2xx under `statusPolicy:
 * 'standard'`. Persisted until acknowledged.
 */
export interface UploadedEvent {
    state: 'UPLOADED';
    /** The upload's `id`, as given to `startUpload`. */
    id: string;
    /**
     * The event's id, for `acknowledgeEvent`: a string of decimal digits
     * (e.g. "7"), the same on every delivery of this event.
     */
    eventId: string;
    /** The HTTP status of the server's answer (under `'any'`, 2xx or not). */
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
    /** Only a {@link FailedByServerEvent} has the server's answer. */
    statusCode?: undefined;
    serverResponse?: undefined;
}

/**
 * `statusPolicy: 'standard'`: the server answered a status that is not
 * UPLOADED (a 4xx, or a retried status once `maxAttempts` ran out).
 * Persisted until acknowledged.
 */
export interface FailedByServerEvent {
    state: 'FAILED';
    /** The upload's `id`, as given to `startUpload`. */
    id: string;
    /** The event's id, for `acknowledgeEvent` (as on every persisted event). */
    eventId: string;
    /**
     * `Server answered HTTP 404`, or `Server answered HTTP 503 (gave up after
     * 3 attempts)` for a retried status.
     */
    error: string;
    /** The HTTP status (positive, unlike the engine's own negative codes). */
    errorCode: number;
    /** The HTTP status, as an UPLOADED event has it. */
    statusCode: number;
    /** The response body as text ("" when empty). */
    serverResponse: string;
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
    /** Never present: a refusal has no answer of a server. */
    statusCode?: undefined;
    serverResponse?: undefined;
}

export type UploadEvent = UploadingEvent | UploadedEvent | FailedEvent | FailedByServerEvent | RefusedEvent;

/** What an error callback receives. */
export interface UploaderError {
    error: string;
}

export type EventHandler = (event: UploadEvent) => void;

/**
 * Where an unfinished upload is (`getUploads`):
 * - `queued`: waiting for a parallel slot;
 * - `waiting-for-network`: waiting for a network it may use (none, or only
 *   a metered one for a `network: 'unmetered'` upload);
 * - `running`: an attempt is in flight;
 * - `retrying`: waiting out a backoff before its next attempt;
 * - `paused`: `pauseUpload`;
 * - `reconciling`: after a relaunch, waiting for the OS's report on a
 *   transfer it owned (iOS).
 */
export type ListedUploadState =
    | 'queued'
    | 'waiting-for-network'
    | 'running'
    | 'retrying'
    | 'paused'
    | 'reconciling';

/** What every entry of a listing has. */
export interface ListedUploadFields {
    /** The upload's `id`, as given to `startUpload`. */
    id: string;
    /** The number of its last attempt (0 before the first). */
    attempt: number;
    /** Bytes of the current attempt's body sent so far (0 between attempts). */
    bytesSent: number;
    /** The current attempt's body size once it reported one, else the file's size. */
    bytesTotal: number;
    /** The upload's URL without userinfo, query or fragment. */
    serverUrl: string;
    /** The file, as the engine reads it (a file:// URL decoded to its path). */
    filePath: string;
}

/** An upload waiting out a backoff. */
export interface RetryingUpload extends ListedUploadFields {
    state: 'retrying';
    /** When the next attempt may start, in ms since the Unix epoch (`new Date(nextAttemptAt)`). */
    nextAttemptAt: number;
}

/** An upload in any other state. */
export interface WaitingOrRunningUpload extends ListedUploadFields {
    state: Exclude<ListedUploadState, 'retrying'>;
    nextAttemptAt?: undefined;
}

/** One unfinished upload of a listing. */
export type ListedUpload = RetryingUpload | WaitingOrRunningUpload;

/** What `getUploads` answers. */
export interface UploadListing {
    /** Every upload without its terminal event yet, in the order they were accepted. */
    uploads: ListedUpload[];
    /** Terminal events delivered (or to be) and not acknowledged yet. */
    unacknowledgedEvents: number;
}

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
    /**
     * Stops the upload's attempt (not counted) and holds it, across
     * relaunches, until `resumeUpload`; no event. It holds no parallel slot.
     * Idempotent; an unknown id succeeds and changes nothing (bgupload).
     */
    pauseUpload(id: string, success?: () => void, error?: (error: UploaderError) => void): void;
    /**
     * Queues a paused upload again; its next attempt sends the file from byte
     * 0. Idempotent; an unknown id succeeds and changes nothing (bgupload).
     */
    resumeUpload(id: string, success?: () => void, error?: (error: UploaderError) => void): void;
    /**
     * Replaces the upload's headers for every later attempt (a refreshed
     * token); stored before `success`. Checked as `startUpload`'s headers.
     * Refused for an upload that is not in progress: `Upload <id> is not in
     * progress` (bgupload).
     */
    updateHeaders(
        id: string,
        headers: Record<string, FieldValue>,
        success?: () => void,
        error?: (error: UploaderError) => void
    ): void;
    /** Every unfinished upload, and how many events await acknowledgement (bgupload). */
    getUploads(success: (listing: UploadListing) => void, error?: (error: UploaderError) => void): void;
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
