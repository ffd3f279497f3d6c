// Compile-time checks of index.d.ts (`npm run check:types`: tsc --noEmit):
// the reference plugin's README usage must type-check, misuse must not.

import type { UploadEvent, UploadPayload, Uploader } from './index';

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
