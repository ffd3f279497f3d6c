/*
 * window.FileTransferManager: the JS API of cordova-plugin-background-upload
 * (same calls, defaults, messages and events), over the bgupload engine.
 *
 *   const uploader = FileTransferManager.init(config, event => { ... });
 *   uploader.startUpload(payload);
 *   uploader.removeUpload(id, ok, err);
 *   uploader.acknowledgeEvent(eventId, ok, err);
 *   uploader.destroy(ok, err);
 *   uploader.pauseUpload(id, ok, err);            // bgupload: queue control
 *   uploader.resumeUpload(id, ok, err);
 *   uploader.updateHeaders(id, headers, ok, err);
 *   uploader.getUploads(listing => { ... }, err);
 *
 * Native actions (service "BgUpload", the same on Android, iOS and the test
 * bridge): initManager [configJson], startUpload [payloadJson],
 * removeUpload [id], acknowledgeEvent [eventId], destroy [],
 * pauseUpload [id], resumeUpload [id], updateHeaders [id, headersJson],
 * getUploads []. Arguments go as JSON text so that every platform decodes
 * them in one place (the engine), with the app's key order kept. The
 * initManager callback is kept by the native side and receives every event
 * as an object; getUploads answers once with the listing object
 * ({uploads, unacknowledgedEvents}); every other action answers once, with
 * nothing or an error message.
 *
 * The config and the payload go to the engine as given (plus the
 * reference's defaults), so the engine's own fields (statusPolicy,
 * idempotencyKey, network, ...) need nothing here: the engine checks them
 * and names the field it refuses.
 *
 * `filePath` is passed as given: the engine accepts absolute paths and
 * file:// URLs (percent-decoded there). cordova-plugin-file is not needed.
 */
'use strict';

const exec = require('cordova/exec');

const SERVICE = 'BgUpload';

const MSG_PAYLOAD_MISSING = 'Upload Settings object is missing or has invalid arguments';
const MSG_ID_REQUIRED = 'Upload ID is required';
const MSG_URL_REQUIRED = 'Server URL is required';
const MSG_URL_INVALID = 'Invalid server URL';
const MSG_FILE_PATH_REQUIRED = 'filePath is required';
const MSG_EVENT_ID_REQUIRED = 'Event ID is required';
const MSG_HANDLER_NOT_FUNCTION = 'event handler must be a function';

const DEFAULT_PARALLEL_UPLOADS_LIMIT = 1;
const DEFAULT_FILE_KEY = 'file';
const DEFAULT_NOTIFICATION_TITLE = 'Uploading files';
const DEFAULT_REQUEST_METHOD = 'POST';

/*
 * A startUpload error the engine refused with a message (an invalid payload,
 * a missing file) has already reached the callback as a FAILED event. Any
 * other error means the engine could not take the command at all; the
 * native side reports those with one of these beginnings, and this module
 * delivers them to the callback itself.
 */
const ENGINE_FAILURE = /^(the upload engine |internal error in the upload engine|cannot open the upload engine)/;

function messageOf (error) {
    if (typeof error === 'string') return error;
    if (error && typeof error.error === 'string') return error.error;
    return String(error);
}

function call (callback, value) {
    if (typeof callback === 'function') callback(value);
}

function FileTransferManager (options, callback) {
    if (typeof callback !== 'function') {
        throw new Error(MSG_HANDLER_NOT_FUNCTION);
    }
    const config = Object.assign({}, options);
    if (!config.parallelUploadsLimit) {
        config.parallelUploadsLimit = DEFAULT_PARALLEL_UPLOADS_LIMIT;
    }
    this.callback = callback;
    exec(
        (event) => callback(event),
        (error) => callback({ state: 'FAILED', error: messageOf(error) }),
        SERVICE,
        'initManager',
        [JSON.stringify(config)]
    );
}

FileTransferManager.prototype.startUpload = function (payload) {
    if (!payload) {
        this.callback({ state: 'FAILED', error: MSG_PAYLOAD_MISSING });
        return;
    }
    const id = payload.id;
    if (!id) {
        this.callback({ state: 'FAILED', error: MSG_ID_REQUIRED });
        return;
    }
    if (!payload.serverUrl) {
        this.callback({ id, state: 'FAILED', error: MSG_URL_REQUIRED });
        return;
    }
    if (typeof payload.serverUrl === 'string' && payload.serverUrl.trim() === '') {
        this.callback({ id, state: 'FAILED', error: MSG_URL_INVALID });
        return;
    }
    if (!payload.filePath) {
        this.callback({ id, state: 'FAILED', error: MSG_FILE_PATH_REQUIRED });
        return;
    }
    const settings = Object.assign({}, payload, {
        fileKey: payload.fileKey || DEFAULT_FILE_KEY,
        notificationTitle: payload.notificationTitle || DEFAULT_NOTIFICATION_TITLE,
        headers: payload.headers || {},
        parameters: payload.parameters || {},
        requestMethod: payload.requestMethod || DEFAULT_REQUEST_METHOD
    });
    const callback = this.callback;
    exec(
        () => {},
        (error) => {
            const message = messageOf(error);
            if (ENGINE_FAILURE.test(message)) {
                callback({ id, state: 'FAILED', error: message });
            }
        },
        SERVICE,
        'startUpload',
        [JSON.stringify(settings)]
    );
};

FileTransferManager.prototype.removeUpload = function (id, success, error) {
    idAction('removeUpload', id, [], success, error);
};

FileTransferManager.prototype.acknowledgeEvent = function (eventId, success, error) {
    if (!eventId) {
        call(error, { error: MSG_EVENT_ID_REQUIRED });
        return;
    }
    exec(
        () => call(success),
        (failure) => call(error, { error: messageOf(failure) }),
        SERVICE,
        'acknowledgeEvent',
        [String(eventId)]
    );
};

/*
 * A call on one upload: a missing id is refused here with the reference's
 * message, without a native call; an unknown id is the engine's to judge.
 * The queue-control calls (pauseUpload, resumeUpload, updateHeaders) are
 * bgupload's own; removeUpload is the reference's.
 */
function idAction (action, id, extraArgs, success, error) {
    if (!id) {
        call(error, { error: MSG_ID_REQUIRED });
        return;
    }
    exec(
        () => call(success),
        (failure) => call(error, { error: messageOf(failure) }),
        SERVICE,
        action,
        [String(id)].concat(extraArgs)
    );
}

FileTransferManager.prototype.pauseUpload = function (id, success, error) {
    idAction('pauseUpload', id, [], success, error);
};

FileTransferManager.prototype.resumeUpload = function (id, success, error) {
    idAction('resumeUpload', id, [], success, error);
};

/*
 * `headers` replaces the upload's headers for every later attempt; omitted
 * or null is no headers of the app's, as startUpload's default {}. The
 * engine checks them as startUpload's; a value JSON cannot carry (a
 * function: callbacks passed in the headers' place) is refused here, in
 * the engine's words, rather than sent as "no headers".
 */
FileTransferManager.prototype.updateHeaders = function (id, headers, success, error) {
    if (id && (typeof headers === 'function' || typeof headers === 'symbol')) {
        call(error, { error: `headers must be an object, not a ${typeof headers}` });
        return;
    }
    const headersJson = JSON.stringify(headers === undefined || headers === null ? {} : headers);
    idAction('updateHeaders', id, [headersJson], success, error);
};

FileTransferManager.prototype.getUploads = function (success, error) {
    exec(
        (listing) => call(success, listing),
        (failure) => call(error, { error: messageOf(failure) }),
        SERVICE,
        'getUploads',
        []
    );
};

FileTransferManager.prototype.destroy = function (success, error) {
    exec(
        () => call(success),
        (failure) => call(error, { error: messageOf(failure) }),
        SERVICE,
        'destroy',
        []
    );
};

module.exports = {
    init: function (options, callback) {
        return new FileTransferManager(options, callback);
    }
};
