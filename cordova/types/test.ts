// Compile-time checks of index.d.ts (`npm run check:types`: tsc --noEmit):
// the reference plugin's README usage must type-check, misuse must not.

import type { ListedUpload, UploadEvent, UploadListing, UploadPayload, Uploader } from './index';

const uploader: Uploader = FileTransferManager.init({ parallelUploadsLimit: 2 }, (event: UploadEvent) => {
    if (event.state === 'UPLOADED') {
        const status: number = event.statusCode;
        const body: string = event.serverResponse;
        console.log(event.id, status, body);
    } else if (event.state === 'FAILED') {
        if (event.id) {
            console.log('upload ' + event.id + ' has failed: ' + event.error);
        } else {
            console.error('uploader caught an error: ' + event.error);
        }
    } else {
        const progress: number = event.progress;
        console.log('uploading: ' + event.id + ' progress: ' + progress + '%');
    }
    if (event.eventId) {
        const acknowledged: string = event.eventId;
        uploader.acknowledgeEvent(acknowledged, () => {}, (error) => console.error(error.error));
    }
    if (event.state === 'FAILED' && event.eventId !== undefined) {
        // A persisted FAILED event always has its code.
        const code: number = event.errorCode;
        console.log(event.id, code);
    }
    if (event.state === 'FAILED' && event.eventId === undefined) {
        // A refusal has one only when the engine refused.
        const code: number | undefined = event.errorCode;
        console.log(event.id, code);
        // @ts-expect-error: a refusal may have no errorCode
        const always: number = event.errorCode;
    }
});
// An event id may also be given as a number (sent as its text).
uploader.acknowledgeEvent(7);
// Events as the plugin delivers them: an engine refusal has its code (here
// File not found), the reference's own refusals none, a FAILED event both.
const delivered: UploadEvent[] = [
    { state: 'FAILED', id: 'a', error: 'File not found: /a', errorCode: -1100 },
    { state: 'FAILED', id: 'a', error: 'Server URL is required' },
    { state: 'FAILED', error: 'Upload ID is required' },
    { state: 'FAILED', id: 'a', eventId: '7', error: 'Upload cancelled', errorCode: -999 }
];
console.log(delivered);

const payload: UploadPayload = {
    id: 'c3a4b4c7-4f1e-4c69-a951-773602e269fb',
    filePath: '/storage/emulated/0/Download/Heli.divx',
    fileKey: 'file',
    serverUrl: 'https://example.com/upload',
    notificationTitle: 'Uploading images',
    headers: { api_key: 'asdasdwere123sad' },
    parameters: { signature: 'a_signature_hash', timestamp: 112321321 },
    requestMethod: 'PUT'
};
uploader.startUpload(payload);
uploader.removeUpload(payload.id, () => {}, (error) => console.error(error.error));
uploader.destroy();
window.FileTransferManager.init(undefined, () => {});
window.FileTransferManager.init({}, () => {}).startUpload({
    id: 'upload 123_456',
    filePath: 'file:///data/user/0/app/files/a%20b.jpg',
    serverUrl: 'https://example.com/upload',
    uploadType: 'raw'
});

// Queue control (bgupload): the policy fields in the config and a payload,
// pause/resume, fresh headers, the listing.
const controlled: Uploader = FileTransferManager.init(
    { statusPolicy: 'standard', idempotencyKey: true, network: 'unmetered', maxBackoffMillis: 60000 },
    (event: UploadEvent) => {
        if (event.state !== 'FAILED') {
            return;
        }
        if (event.statusCode !== undefined) {
            // Refused by the server under 'standard': errorCode is the HTTP status.
            const status: number = event.statusCode;
            const body: string = event.serverResponse;
            const same: boolean = event.errorCode === status;
            const acknowledged: string = event.eventId;
            console.log(event.id, event.error, body, same, acknowledged);
        } else {
            // Any other FAILED event (or refusal) has no answer of the server.
            const none: undefined = event.serverResponse;
            console.log(none);
        }
    }
);
controlled.startUpload({ ...payload, statusPolicy: 'any', idempotencyKey: false, network: 'any' });
controlled.pauseUpload(payload.id, () => {}, (error) => console.error(error.error));
controlled.resumeUpload(payload.id);
controlled.updateHeaders(payload.id, { Authorization: 'Bearer fresh', 'X-Attempt': 2, 'X-Retry': true },
    () => {}, (error) => console.error(error.error));
controlled.getUploads((listing: UploadListing) => {
    for (const upload of listing.uploads) {
        const where: string = `${upload.id} ${upload.state} #${upload.attempt} ${upload.bytesSent}/${upload.bytesTotal} ${upload.serverUrl} ${upload.filePath}`;
        if (upload.state === 'retrying') {
            const next: Date = new Date(upload.nextAttemptAt);
            console.log(where, next);
        } else {
            const none: undefined = upload.nextAttemptAt;
            console.log(where, none);
        }
    }
    const unacknowledged: number = listing.unacknowledgedEvents;
    console.log(unacknowledged);
}, (error) => console.error(error.error));
const listed: ListedUpload[] = [
    { id: 'a', state: 'retrying', attempt: 2, bytesSent: 0, bytesTotal: 10, serverUrl: 'https://e.test/u', filePath: '/a', nextAttemptAt: 1767225600000 },
    { id: 'b', state: 'waiting-for-network', attempt: 0, bytesSent: 0, bytesTotal: 10, serverUrl: 'https://e.test/u', filePath: '/b' }
];
console.log(listed);
const refusedByServer: UploadEvent = {
    state: 'FAILED', id: 'a', eventId: '8', error: 'Server answered HTTP 404', errorCode: 404, statusCode: 404, serverResponse: ''
};
console.log(refusedByServer);

// @ts-expect-error: statusPolicy is 'any' or 'standard'
controlled.startUpload({ ...payload, statusPolicy: 'strict' });
// @ts-expect-error: network is 'any' or 'unmetered'
FileTransferManager.init({ network: 'wifi' }, () => {});
// @ts-expect-error: idempotencyKey is a boolean
controlled.startUpload({ ...payload, idempotencyKey: 'yes' });
// @ts-expect-error: updateHeaders needs the headers
controlled.updateHeaders(payload.id, () => {});
// @ts-expect-error: header values are text, numbers or booleans
controlled.updateHeaders(payload.id, { nested: { a: 1 } });
// @ts-expect-error: getUploads answers through its success callback
const sync: UploadListing = controlled.getUploads(() => {});
// @ts-expect-error: the upload id is text
controlled.pauseUpload(42);
// @ts-expect-error: only a retrying upload has a next attempt time
const notRetrying: ListedUpload = { id: 'c', state: 'running', attempt: 1, bytesSent: 1, bytesTotal: 10, serverUrl: 'https://e.test/u', filePath: '/c', nextAttemptAt: 1 };
// @ts-expect-error: a FAILED event with a serverResponse has its statusCode
const halfAnswer: UploadEvent = { state: 'FAILED', id: 'a', eventId: '8', error: 'x', errorCode: 404, serverResponse: '' };
// @ts-expect-error: 'done' is not a listed state
const finished: ListedUpload = { id: 'd', state: 'done', attempt: 1, bytesSent: 0, bytesTotal: 1, serverUrl: 'https://e.test/u', filePath: '/d' };

// @ts-expect-error: the callback is required
FileTransferManager.init({});
// @ts-expect-error: serverUrl is required
uploader.startUpload({ id: 'x', filePath: '/a' });
// @ts-expect-error: GET is not an upload method
uploader.startUpload({ ...payload, requestMethod: 'GET' });
// @ts-expect-error: header values are text, numbers or booleans
uploader.startUpload({ ...payload, headers: { nested: { a: 1 } } });
// @ts-expect-error: a FAILED event with an eventId has an errorCode
const uncoded: UploadEvent = { state: 'FAILED', id: 'a', eventId: '7', error: 'x' };
// @ts-expect-error: eventId is delivered as text
const numbered: UploadEvent = { state: 'UPLOADED', id: 'a', eventId: 7, statusCode: 200, serverResponse: '' };
// @ts-expect-error: an event id is text or a number
uploader.acknowledgeEvent({ eventId: '7' });
// @ts-expect-error: uploadType is multipart or raw
uploader.startUpload({ ...payload, uploadType: 'tus' });
// @ts-expect-error: only UPLOADING events have a progress
FileTransferManager.init({}, (event) => event.state === 'UPLOADED' && event.progress);
