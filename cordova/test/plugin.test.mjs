// The plugin's JS API end to end: cordova/www/FileTransferManager.js over
// the bgupload-bridge process (the engine, as the Android and iOS glue run
// it) against `bgupload serve` receivers on 127.0.0.1: the reference
// plugin's scenarios, then what this engine adds (persistence across a
// re-init and a kill, offline waiting).
//
// Run: scripts/cordova-check.sh (builds the binaries), or
//   node --test cordova/test/   with BGUPLOAD_BIN_DIR set.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import {
    Bridge,
    Events,
    QUIET_MS,
    answerOf,
    loadPlugin,
    sleep,
    startReceiver,
    tempDir,
    writeTestFile
} from './support.mjs';

const MIB = 1024 * 1024;
const TEST_TIMEOUT_MS = 120_000;
/** Throttled receiver speed: a LARGE file takes about 3 s. */
const SLOW_BYTES_PER_SEC = 2 * MIB;
/** Short retries, so that a failing upload ends quickly. */
const FAST_RETRIES = { maxAttempts: 2, initialBackoffMillis: 10, maxBackoffMillis: 50 };

let work;
let fast;
let slow;
const files = {};

before(async () => {
    work = tempDir('bgupload-cordova-test-');
    fast = await startReceiver(path.join(work.dir, 'received-fast'));
    slow = await startReceiver(path.join(work.dir, 'received-slow'), {
        throttleBytesPerSec: SLOW_BYTES_PER_SEC
    });
    const dir = path.join(work.dir, 'files');
    mkdirSync(dir);
    for (const [name, size, seed] of [
        ['small.txt', 4096, 1],
        ['other.bin', 70_000, 2],
        ['with space é.txt', 1234, 3],
        ['large-a.bin', 6 * MIB, 4],
        ['large-b.bin', 6 * MIB, 5]
    ]) {
        const file = path.join(dir, name);
        files[name] = { path: file, sha256: writeTestFile(file, size, seed), size };
    }
});

after(async () => {
    await fast?.stop();
    await slow?.stop();
    work?.remove();
});

let apps = 0;

/**
 * An app: the native side (a bridge on `dataDir`, a fresh one by default)
 * and the plugin module loaded over it. Stopped when the test ends.
 */
async function startApp (t, dataDir = path.join(work.dir, `engine-${++apps}`)) {
    const bridge = await Bridge.start(dataDir);
    let stopped = false;
    const app = {
        bridge,
        dataDir,
        FileTransferManager: loadPlugin(bridge.exec),
        /** The app is killed; its data directory stays. */
        async kill () {
            stopped = true;
            await bridge.kill();
        }
    };
    t.after(async () => {
        if (!stopped) await bridge.stop();
    });
    return app;
}

/**
 * A fresh upload id as apps write them: any text (the reference's own tests
 * use 'abc', 'file_1', '123_456'), here path-like and non-ASCII too.
 */
function appId () {
    return `../upload ${randomUUID().slice(0, 8)}/é`;
}

function payload (file, extra = {}) {
    return { id: appId(), filePath: file.path, serverUrl: fast.url, ...extra };
}

function receivedInfo (event) {
    return JSON.parse(event.serverResponse).receivedInfo;
}

function lastCall (bridge, action) {
    const calls = bridge.calls.filter((call) => call.action === action);
    return JSON.parse(calls[calls.length - 1].args[0]);
}

test('init: a callback that is not a function throws, before any native call', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { bridge, FileTransferManager } = await startApp(t);
    for (const callback of [undefined, null, 'callback', {}]) {
        assert.throws(() => FileTransferManager.init({}, callback), {
            name: 'Error',
            message: 'event handler must be a function'
        });
    }
    assert.deepEqual(bridge.calls, []);
});

test('init: parallelUploadsLimit is 1 when falsy; the config is not changed', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { bridge, FileTransferManager } = await startApp(t);
    const events = new Events();
    for (const [config, expected] of [[undefined, 1], [{}, 1], [{ parallelUploadsLimit: 0 }, 1], [{ parallelUploadsLimit: 3 }, 3]]) {
        const before = JSON.stringify(config);
        FileTransferManager.init(config, events.callback);
        assert.equal(lastCall(bridge, 'initManager').parallelUploadsLimit, expected);
        assert.equal(JSON.stringify(config), before);
    }
    await sleep(QUIET_MS);
    assert.deepEqual(events.list, [], 'a valid init sends no event');
});

test('startUpload: the reference validation, in order, at once, without eventId', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { bridge, FileTransferManager } = await startApp(t);
    const events = new Events();
    const uploader = FileTransferManager.init({}, events.callback);
    const id = randomUUID();
    const cases = [
        [undefined, { state: 'FAILED', error: 'Upload Settings object is missing or has invalid arguments' }],
        [null, { state: 'FAILED', error: 'Upload Settings object is missing or has invalid arguments' }],
        [{}, { state: 'FAILED', error: 'Upload ID is required' }],
        [{ serverUrl: '', filePath: '' }, { state: 'FAILED', error: 'Upload ID is required' }],
        [{ id }, { id, state: 'FAILED', error: 'Server URL is required' }],
        [{ id, filePath: files['small.txt'].path }, { id, state: 'FAILED', error: 'Server URL is required' }],
        [{ id, serverUrl: '   ' }, { id, state: 'FAILED', error: 'Invalid server URL' }],
        [{ id, serverUrl: fast.url }, { id, state: 'FAILED', error: 'filePath is required' }]
    ];
    for (const [settings, expected] of cases) {
        const count = events.list.length;
        uploader.startUpload(settings);
        assert.deepEqual(events.list.slice(count), [expected], `startUpload(${JSON.stringify(settings)})`);
    }
    assert.equal(bridge.calls.filter((call) => call.action === 'startUpload').length, 0,
        'the JS checks do not reach the native side');
    assert.deepEqual(await events.quietAfter(), [], 'each refusal is delivered once');
});

test('startUpload: a missing file is refused by the engine, once, with id', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { FileTransferManager } = await startApp(t);
    const events = new Events();
    const uploader = FileTransferManager.init({}, events.callback);
    const missing = path.join(work.dir, 'files', 'does-not-exist.jpg');
    const settings = payload({ path: missing });
    uploader.startUpload(settings);
    const event = await events.waitFor((e) => e.id === settings.id, 'the refusal');
    assert.deepEqual(event, { id: settings.id, state: 'FAILED', error: `File not found: ${missing}`, errorCode: -1100 });
    assert.deepEqual(await events.quietAfter(), []);
});

test('startUpload: POST with defaults, progress, then UPLOADED 201 with the echo', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { bridge, FileTransferManager } = await startApp(t);
    const events = new Events();
    const uploader = FileTransferManager.init({ progressIntervalMillis: 100 }, events.callback);
    const file = files['large-a.bin'];
    const settings = { id: randomUUID(), filePath: file.path, serverUrl: slow.url };
    uploader.startUpload(settings);
    assert.deepEqual(lastCall(bridge, 'startUpload'), {
        ...settings,
        fileKey: 'file',
        notificationTitle: 'Uploading files',
        headers: {},
        parameters: {},
        requestMethod: 'POST'
    }, 'the reference defaults are sent');
    assert.deepEqual(Object.keys(settings), ['id', 'filePath', 'serverUrl'], 'the payload is not changed');

    const uploaded = await events.terminal(settings.id);
    assert.equal(uploaded.state, 'UPLOADED');
    assert.equal(uploaded.statusCode, 201);
    assert.equal(typeof uploaded.eventId, 'string');
    assert.match(uploaded.eventId, /^[1-9][0-9]*$/);
    assert.deepEqual(Object.keys(uploaded).sort(), ['eventId', 'id', 'serverResponse', 'state', 'statusCode']);
    const info = receivedInfo(uploaded);
    assert.equal(info.originalFilename, 'large-a.bin');
    assert.equal(info.fileKey, 'file');
    assert.equal(info.size, file.size);
    assert.equal(info.sha256, file.sha256);

    const mine = events.of(settings.id);
    const progress = mine.filter((event) => event.state === 'UPLOADING');
    assert.ok(progress.length >= 2, `progress events: ${JSON.stringify(progress)}`);
    for (const event of progress) {
        assert.deepEqual(Object.keys(event).sort(), ['id', 'progress', 'state']);
        assert.ok(event.progress >= 0 && event.progress <= 100, `progress ${event.progress}`);
    }
    const values = progress.map((event) => event.progress);
    assert.deepEqual(values, [...values].sort((a, b) => a - b), 'progress never goes back');
    assert.equal(mine[mine.length - 1], uploaded, 'no UPLOADING after UPLOADED');
    assert.deepEqual((await events.quietAfter()).filter((e) => e.id === settings.id), []);
});

test('startUpload: PUT, fileKey, headers and parameters reach the server', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { FileTransferManager } = await startApp(t);
    const events = new Events();
    const uploader = FileTransferManager.init({}, events.callback);
    const file = files['other.bin'];
    const settings = payload(file, {
        fileKey: 'photo',
        requestMethod: 'PUT',
        headers: { 'X-Api-Key': 'asdasdwere123sad', 'X-Count': 3 },
        parameters: { signature: 'a_signature_hash', timestamp: 112321321, ok: true },
        notificationTitle: 'Uploading images'
    });
    uploader.startUpload(settings);
    const uploaded = await events.terminal(settings.id);
    assert.equal(uploaded.state, 'UPLOADED');
    assert.equal(uploaded.statusCode, 200, 'the receiver answers PUT with 200');
    const info = receivedInfo(uploaded);
    assert.equal(info.fileKey, 'photo');
    assert.equal(info.sha256, file.sha256);
    assert.equal(info.headers['x-api-key'], 'asdasdwere123sad');
    assert.equal(info.headers['x-count'], '3');
    assert.deepEqual(info.parameters, { signature: 'a_signature_hash', timestamp: '112321321', ok: 'true' });
});

test('startUpload: a percent-encoded file:// URL is accepted', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { FileTransferManager } = await startApp(t);
    const events = new Events();
    const uploader = FileTransferManager.init({}, events.callback);
    const file = files['with space é.txt'];
    const url = pathToFileURL(file.path).href;
    assert.match(url, /%20/);
    const settings = payload(file, { filePath: url });
    uploader.startUpload(settings);
    const uploaded = await events.terminal(settings.id);
    assert.equal(uploaded.state, 'UPLOADED');
    assert.equal(receivedInfo(uploaded).sha256, file.sha256);
});

test('startUpload: an unreachable server ends in FAILED with eventId after maxAttempts', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { FileTransferManager } = await startApp(t);
    const events = new Events();
    const uploader = FileTransferManager.init(FAST_RETRIES, events.callback);
    // Port 1 on the loopback address: nothing listens, the connection is refused.
    const settings = payload(files['small.txt'], { serverUrl: 'http://127.0.0.1:1/upload' });
    uploader.startUpload(settings);
    const failed = await events.terminal(settings.id);
    assert.equal(failed.state, 'FAILED');
    assert.equal(typeof failed.error, 'string');
    assert.equal(typeof failed.errorCode, 'number');
    assert.deepEqual(Object.keys(failed).sort(), ['error', 'errorCode', 'eventId', 'id', 'state']);
});

test('parallelUploadsLimit: 1 runs one transfer at a time, 2 runs two', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { FileTransferManager } = await startApp(t);
    for (const limit of [1, 2]) {
        const events = new Events();
        const uploader = FileTransferManager.init({ parallelUploadsLimit: limit, progressIntervalMillis: 100 }, events.callback);
        const first = payload(files['large-a.bin'], { serverUrl: slow.url });
        const second = payload(files['large-b.bin'], { serverUrl: slow.url });
        uploader.startUpload(first);
        uploader.startUpload(second);
        const firstDone = await events.terminal(first.id);
        await events.terminal(second.id);
        const order = events.list.indexOf(firstDone);
        const secondProgressBefore = events.list
            .slice(0, order)
            .filter((event) => event.id === second.id && event.state === 'UPLOADING');
        if (limit === 1) {
            assert.deepEqual(secondProgressBefore, [], 'the second waits for the first');
        } else {
            assert.ok(secondProgressBefore.length > 0, 'both run at once');
        }
        for (const event of events.list.filter((e) => e.eventId)) {
            assert.equal(event.state, 'UPLOADED');
            await answerOf(uploader.acknowledgeEvent.bind(uploader), event.eventId);
        }
    }
});

test('removeUpload: a running upload ends FAILED -999 with eventId; ids are checked', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { FileTransferManager } = await startApp(t);
    const events = new Events();
    const uploader = FileTransferManager.init({ progressIntervalMillis: 100 }, events.callback);
    const settings = payload(files['large-a.bin'], { serverUrl: slow.url });
    uploader.startUpload(settings);
    await events.waitFor((e) => e.id === settings.id && e.state === 'UPLOADING', 'progress');
    assert.deepEqual(await answerOf(uploader.removeUpload.bind(uploader), settings.id), { ok: true, value: undefined });
    const cancelled = await events.terminal(settings.id);
    assert.equal(cancelled.state, 'FAILED');
    assert.equal(cancelled.errorCode, -999);
    assert.match(cancelled.error, /cancel/i);
    assert.deepEqual((await events.quietAfter()).filter((e) => e.id === settings.id), [],
        'nothing after the terminal event');

    assert.deepEqual(await answerOf(uploader.removeUpload.bind(uploader), randomUUID()), { ok: true, value: undefined },
        'an unknown id succeeds');
    for (const id of [undefined, null, '']) {
        assert.deepEqual(await answerOf(uploader.removeUpload.bind(uploader), id),
            { ok: false, value: { error: 'Upload ID is required' } });
        assert.deepEqual(await answerOf(uploader.acknowledgeEvent.bind(uploader), id),
            { ok: false, value: { error: 'Event ID is required' } });
    }
    assert.deepEqual(await answerOf(uploader.acknowledgeEvent.bind(uploader), 987654), { ok: true, value: undefined },
        'an unknown event id succeeds');
    for (const never of ['abc', 'x-coredata://123/UploadEvent/p1', settings.id, '-1', '1e3']) {
        assert.deepEqual(await answerOf(uploader.acknowledgeEvent.bind(uploader), never), { ok: true, value: undefined },
            `an eventId never issued (${never}) succeeds`);
    }
    const long = await answerOf(uploader.acknowledgeEvent.bind(uploader), '7'.repeat(1025));
    assert.deepEqual(long, { ok: false, value: { error: 'Event ID must be at most 1024 bytes' } });
    assert.deepEqual(await answerOf(uploader.acknowledgeEvent.bind(uploader), cancelled.eventId), { ok: true, value: undefined },
        'the delivered eventId, a string, acknowledges');
    // Missing callbacks are allowed.
    uploader.removeUpload(undefined);
    uploader.acknowledgeEvent(undefined);
});

test('events persist until acknowledged: again on re-init, again after a kill', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const first = await startApp(t);
    const events = new Events();
    let uploader = first.FileTransferManager.init({}, events.callback);
    const settings = payload(files['small.txt']);
    uploader.startUpload(settings);
    const uploaded = await events.terminal(settings.id);
    assert.equal(uploaded.state, 'UPLOADED');

    // A second init replaces the callback and delivers the event again, identical.
    const again = new Events();
    uploader = first.FileTransferManager.init({}, again.callback);
    assert.deepEqual(await again.terminal(settings.id), uploaded);
    const count = events.list.length;
    await sleep(QUIET_MS);
    assert.equal(events.list.length, count, 'the replaced callback gets nothing more');

    // The app is killed before acknowledging: the next launch delivers it again.
    await first.kill();
    const second = await startApp(t, first.dataDir);
    const relaunched = new Events();
    uploader = second.FileTransferManager.init({}, relaunched.callback);
    assert.deepEqual(await relaunched.terminal(settings.id), uploaded);

    assert.deepEqual(await answerOf(uploader.acknowledgeEvent.bind(uploader), uploaded.eventId), { ok: true, value: undefined });
    const afterAck = new Events();
    second.FileTransferManager.init({}, afterAck.callback);
    assert.deepEqual(await afterAck.quietAfter(0), [], 'an acknowledged event is not delivered again');
    await second.kill();
    const third = await startApp(t, first.dataDir);
    const lastLaunch = new Events();
    third.FileTransferManager.init({}, lastLaunch.callback);
    assert.deepEqual(await lastLaunch.quietAfter(0), [], 'nor after a relaunch');
});

test('an upload in flight when the app is killed resumes on the next launch', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const first = await startApp(t);
    const events = new Events();
    const uploader = first.FileTransferManager.init({ progressIntervalMillis: 100 }, events.callback);
    const file = files['large-b.bin'];
    const settings = payload(file, { serverUrl: slow.url });
    uploader.startUpload(settings);
    await events.waitFor((e) => e.id === settings.id && e.state === 'UPLOADING', 'progress');
    await first.kill();

    const second = await startApp(t, first.dataDir);
    const relaunched = new Events();
    second.FileTransferManager.init({}, relaunched.callback);
    const uploaded = await relaunched.terminal(settings.id);
    assert.equal(uploaded.state, 'UPLOADED');
    assert.equal(receivedInfo(uploaded).sha256, file.sha256);
});

test('destroy: the callback gets nothing more, uploads go on, init delivers again', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { FileTransferManager } = await startApp(t);
    const events = new Events();
    const uploader = FileTransferManager.init({}, events.callback);
    assert.deepEqual(await answerOf(uploader.destroy.bind(uploader)), { ok: true, value: undefined });
    const settings = payload(files['small.txt']);
    uploader.startUpload(settings);
    const later = new Events();
    await sleep(QUIET_MS);
    FileTransferManager.init({}, later.callback);
    const uploaded = await later.terminal(settings.id);
    assert.equal(uploaded.state, 'UPLOADED');
    assert.deepEqual(events.list, [], 'the destroyed callback got nothing');
});

test('offline: an upload waits for the network, then goes', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { bridge, FileTransferManager } = await startApp(t);
    const events = new Events();
    const uploader = FileTransferManager.init(FAST_RETRIES, events.callback);
    await bridge.host('setNetworkReachable', [false]);
    const settings = payload(files['small.txt']);
    uploader.startUpload(settings);
    assert.deepEqual(await events.quietAfter(), [], 'nothing happens while offline');
    await bridge.host('setNetworkReachable', [true]);
    const uploaded = await events.terminal(settings.id);
    assert.equal(uploaded.state, 'UPLOADED', 'no attempt was spent while offline');
});

test('an engine that cannot take a command reports it to the callback, with id', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { FileTransferManager } = await startApp(t);
    const events = new Events();
    const uploader = FileTransferManager.init({ parallelUploadsLimit: 100000 }, events.callback);
    const refused = await events.waitFor((e) => e.state === 'FAILED', 'the init error');
    assert.equal(refused.id, undefined);
    assert.match(refused.error, /parallelUploadsLimit/);
    const settings = payload(files['small.txt']);
    uploader.startUpload(settings);
    const failed = await events.waitFor((e) => e.id === settings.id, 'the startUpload error');
    assert.deepEqual(failed, {
        id: settings.id,
        state: 'FAILED',
        error: 'the upload engine is not initialised; call init first'
    });
    assert.deepEqual((await events.quietAfter()).filter((e) => e.id === settings.id), []);
});
