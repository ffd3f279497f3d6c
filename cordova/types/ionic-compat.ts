// Compile-time checks (`npm run check:types`) that an app typed against the
// Ionic wrapper @awesome-cordova-plugins/background-upload (a devDependency
// at an exact version) type-checks against index.d.ts. At run time the
// wrapper calls `window.FileTransferManager.init(options.config,
// options.callBack)` and then each instance method with the app's arguments
// followed by a promise's resolve and reject; those calls are modelled here.
//
// Compatible one way only, on purpose:
// - The wrapper's UploadEvent (every field optional, `state` may be
//   'INITIALIZED', `error`/`progress`/`serverResponse` untyped) is not one of
//   our events: ours is a union discriminated by `state`, each member with
//   exactly the fields it always has. So our events are assignable to the
//   wrapper's, and the wrapper's callbacks are accepted by our `init`, but a
//   callback typed against our events is not a wrapper `callBack`.
// - The wrapper's FTMPayloadOptions is accepted by our `startUpload`, but
//   our UploadPayload is not an FTMPayloadOptions: header and parameter
//   values may be numbers or booleans in ours (sent as text, as the
//   reference plugin does), strings only in the wrapper's.
// - Our `init(config, callback)` is the plugin's window API; the wrapper's
//   `init(options)` with one FTMOptions object is the wrapper's own API.
// - The wrapper's `removeUpload(id: any)` takes anything; ours takes the
//   upload's id, a string (as FTMPayloadOptions.id is).

import {
    FileTransferManager as WrapperFileTransferManager,
    FTMOptions,
    FTMPayloadOptions,
    UploadEvent as WrapperUploadEvent,
    UploadState
} from '@awesome-cordova-plugins/background-upload';
import type { UploadEvent, UploadPayload, Uploader } from './index';

declare const options: FTMOptions;
declare const wrapperPayload: FTMPayloadOptions;
declare const wrapperEvent: WrapperUploadEvent;
declare const ourEvent: UploadEvent;

// The wrapper's constructor: our init takes its config and its callBack.
const uploader: Uploader = window.FileTransferManager.init(options.config, options.callBack);

// A callback written against the wrapper's event, as in a wrapper app.
const wrapperCallback = (event: WrapperUploadEvent): void => {
    if (event.state === UploadState.UPLOADED) {
        console.log(event.id, event.statusCode, event.serverResponse);
    } else if (event.state === 'FAILED') {
        console.log(event.id, event.error, event.errorCode);
    } else if (event.state === UploadState.UPLOADING) {
        console.log(event.id, event.progress);
    }
    if (event.eventId) {
        const eventId: string = event.eventId;
        uploader.acknowledgeEvent(eventId);
    }
};
FileTransferManager.init({ parallelUploadsLimit: 2 }, wrapperCallback);
FileTransferManager.init(undefined, (event: WrapperUploadEvent) => event.id);

// Every one of our events is a wrapper event.
const asWrapperEvent: WrapperUploadEvent = ourEvent;
const wrapperEventId: string | undefined = asWrapperEvent.eventId;
console.log(wrapperEventId);
FileTransferManager.init({}, (event: UploadEvent) => {
    wrapperCallback(event);
    if (event.state === 'UPLOADING') {
        const progress: WrapperUploadEvent['progress'] = event.progress;
        console.log(progress);
    } else {
        const errorCode: WrapperUploadEvent['errorCode'] = event.state === 'FAILED' ? event.errorCode : undefined;
        console.log(errorCode);
    }
});

// The wrapper's payload is ours; with our extensions too.
uploader.startUpload(wrapperPayload);
const ourPayload: UploadPayload = wrapperPayload;
uploader.startUpload({ ...wrapperPayload, uploadType: 'raw', requestMethod: 'PUT' });
uploader.startUpload({
    id: 'any non-empty text',
    filePath: '/data/user/0/app/files/a.jpg',
    serverUrl: 'https://example.com/upload',
    headers: { api_key: 'secret' },
    parameters: { signature: 'abc' }
});

// The instance methods, called as the wrapper calls them (its promise's
// resolve and reject appended), with the wrapper's argument types.
function viaPromise(call: (resolve: () => void, reject: (reason: unknown) => void) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => call(resolve, reject));
}
const deliveredEventId: NonNullable<WrapperUploadEvent['eventId']> = '7';
const wrapperAcknowledge: Parameters<WrapperFileTransferManager['acknowledgeEvent']>[0] = deliveredEventId;
void viaPromise((resolve, reject) => uploader.acknowledgeEvent(wrapperAcknowledge, resolve, reject));
void viaPromise((resolve, reject) => uploader.acknowledgeEvent(7, resolve, reject));
void viaPromise((resolve, reject) => uploader.removeUpload(ourPayload.id, resolve, reject));
void viaPromise((resolve, reject) => uploader.destroy(resolve, reject));
uploader.acknowledgeEvent(wrapperAcknowledge);
uploader.removeUpload(wrapperPayload.id);
uploader.destroy();

// Queue control is ours only (the wrapper has no such methods): a wrapper
// app reaches it on the object our init returns, in the same promise style,
// and our payload fields pass through the wrapper's payload.
void viaPromise((resolve, reject) => uploader.pauseUpload(wrapperPayload.id, resolve, reject));
void viaPromise((resolve, reject) => uploader.resumeUpload(wrapperPayload.id, resolve, reject));
void viaPromise((resolve, reject) =>
    uploader.updateHeaders(wrapperPayload.id, wrapperPayload.headers ?? {}, resolve, reject));
void new Promise((resolve, reject) => uploader.getUploads(resolve, reject));
uploader.startUpload({ ...wrapperPayload, statusPolicy: 'standard', idempotencyKey: true, network: 'unmetered' });
const policyPayload: FTMPayloadOptions = { ...wrapperPayload, statusPolicy: 'standard' };
uploader.startUpload(policyPayload);

// Still refused.
// @ts-expect-error: the wrapper's one-object init is not the plugin's API
FileTransferManager.init(options);
// @ts-expect-error: a wrapper event (all fields optional) is not one of ours
const asOurEvent: UploadEvent = wrapperEvent;
// @ts-expect-error: a callback needing our events is not a wrapper callBack
const asWrapperCallback: FTMOptions['callBack'] = (event: UploadEvent) => event.state;
// @ts-expect-error: a wrapper event's eventId may be absent; check it first
uploader.acknowledgeEvent(wrapperEvent.eventId);
const { serverUrl, ...withoutServerUrl } = wrapperPayload;
// @ts-expect-error: serverUrl is required, by both
uploader.startUpload(withoutServerUrl);
const { filePath, ...withoutFilePath } = wrapperPayload;
// @ts-expect-error: filePath is required, by both
uploader.startUpload(withoutFilePath);
// @ts-expect-error: uploadType is multipart or raw
uploader.startUpload({ ...wrapperPayload, uploadType: 'tus' });
// @ts-expect-error: GET is not an upload method
uploader.startUpload({ ...wrapperPayload, requestMethod: 'GET' });
// @ts-expect-error: the upload id is text
uploader.removeUpload(42);
