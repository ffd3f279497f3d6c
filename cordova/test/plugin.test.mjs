// The plugin's JS API end to end: cordova/www/FileTransferManager.js over
// the bgupload-bridge process (the engine, as the Android and iOS glue run
// it) against `bgupload serve` receivers on 127.0.0.1: the reference
// plugin's scenarios, then what this engine adds (persistence across a
// re-init and a kill, offline waiting), and its queue control (pause and
// resume, fresh headers, the listing, the status policy, idempotency keys,
// unmetered-only uploads).
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
    eventually,
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

// ----- queue control (bgupload) -----

const OK = { ok: true, value: undefined };
const ID_REQUIRED = { ok: false, value: { error: 'Upload ID is required' } };
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** What getUploads answers (through its success callback). */
async function listingOf (uploader) {
    const answer = await answerOf(uploader.getUploads.bind(uploader));
    assert.equal(answer.ok, true, `getUploads failed: ${JSON.stringify(answer.value)}`);
    return answer.value;
}

function entryOf (listing, id) {
    return listing.uploads.find((entry) => entry.id === id);
}

/** Waits until getUploads lists `id` in `state`; resolves with its entry. */
function stateOf (uploader, id, state) {
    let last;
    return eventually(async () => {
        last = await listingOf(uploader);
        const entry = entryOf(last, id);
        return entry && entry.state === state ? entry : undefined;
    }, `${id} in state ${state}`, { describe: () => JSON.stringify(last) });
}

/**
 * A URL of `receiver` of its own (the receiver counts on-demand answers per
 * URL), asking for `query`'s answer: `status=503&retryAfter=1&times=1`.
 */
function onDemand (receiver, query) {
    const url = new URL(receiver.url);
    url.pathname = `/upload/${randomUUID()}`;
    url.search = query;
    return url.href;
}

test('pauseUpload / resumeUpload: a paused upload sends nothing, frees its slot, stays paused after a kill', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const first = await startApp(t);
    const events = new Events();
    // One attempt only: the stopped attempt must not count as a failure.
    const config = { parallelUploadsLimit: 1, progressIntervalMillis: 100, maxAttempts: 1 };
    let uploader = first.FileTransferManager.init(config, events.callback);
    const file = files['large-a.bin'];
    const paused = payload(file, { serverUrl: slow.url });
    uploader.startUpload(paused);
    await events.waitFor((e) => e.id === paused.id && e.state === 'UPLOADING', 'progress');
    assert.deepEqual(await answerOf(uploader.pauseUpload.bind(uploader), paused.id), OK);
    const entry = await stateOf(uploader, paused.id, 'paused');
    assert.equal(entry.bytesSent, 0, 'no attempt runs');
    assert.ok(entry.attempt >= 1, `its attempt was counted as started: ${JSON.stringify(entry)}`);
    assert.deepEqual(await answerOf(uploader.pauseUpload.bind(uploader), paused.id), OK, 'pausing again succeeds');

    // Its slot is free: another upload goes through meanwhile.
    const other = payload(files['small.txt']);
    uploader.startUpload(other);
    assert.equal((await events.terminal(other.id)).state, 'UPLOADED');
    const quiet = events.list.length;
    await sleep(QUIET_MS);
    assert.deepEqual(events.list.slice(quiet).filter((e) => e.id === paused.id), [], 'nothing while paused');
    assert.equal(events.of(paused.id).some((e) => e.eventId !== undefined), false, 'no terminal event from a pause');

    // Paused across a kill.
    await first.kill();
    const second = await startApp(t, first.dataDir);
    const relaunched = new Events();
    uploader = second.FileTransferManager.init(config, relaunched.callback);
    assert.equal(entryOf(await listingOf(uploader), paused.id).state, 'paused');
    await sleep(QUIET_MS);
    assert.deepEqual(relaunched.of(paused.id).filter((e) => e.eventId !== undefined), [], 'still paused');

    // Resumed: the whole file again (a multipart upload restarts from byte 0).
    assert.deepEqual(await answerOf(uploader.resumeUpload.bind(uploader), paused.id), OK);
    assert.deepEqual(await answerOf(uploader.resumeUpload.bind(uploader), paused.id), OK, 'resuming again succeeds');
    const uploaded = await relaunched.terminal(paused.id);
    assert.equal(uploaded.state, 'UPLOADED');
    assert.equal(receivedInfo(uploaded).size, file.size);
    assert.equal(receivedInfo(uploaded).sha256, file.sha256);

    // Unknown (or ended) ids succeed and change nothing.
    for (const id of [randomUUID(), paused.id]) {
        assert.deepEqual(await answerOf(uploader.pauseUpload.bind(uploader), id), OK);
        assert.deepEqual(await answerOf(uploader.resumeUpload.bind(uploader), id), OK);
    }
    assert.equal(entryOf(await listingOf(uploader), paused.id), undefined, 'an ended upload is not listed');
});

test('updateHeaders: the next attempt sends the new headers, also after a kill; refused once the upload ended', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const first = await startApp(t);
    const events = new Events();
    // The first answer is 503 with Retry-After: 30 s, so the upload waits
    // (retrying) long enough to get its new headers before its next attempt.
    const config = { statusPolicy: 'standard', maxAttempts: 3, initialBackoffMillis: 10, maxBackoffMillis: 60_000 };
    let uploader = first.FileTransferManager.init(config, events.callback);
    const settings = payload(files['small.txt'], {
        serverUrl: onDemand(fast, 'status=503&retryAfter=30&times=1'),
        headers: { 'X-Session-Token': 'stale', Authorization: 'Bearer stale' }
    });
    const started = Date.now();
    uploader.startUpload(settings);
    const retrying = await stateOf(uploader, settings.id, 'retrying');
    assert.equal(retrying.attempt, 1);
    assert.ok(retrying.nextAttemptAt >= started + 25_000 && retrying.nextAttemptAt <= Date.now() + 31_000,
        `the wait honours Retry-After: 30 (next attempt at ${new Date(retrying.nextAttemptAt).toISOString()})`);

    // Checked as startUpload's headers.
    const badName = await answerOf(uploader.updateHeaders.bind(uploader), settings.id, { 'Bad Name': 'x' });
    assert.equal(badName.ok, false);
    assert.match(badName.value.error, /Bad Name/);
    const badValue = await answerOf(uploader.updateHeaders.bind(uploader), settings.id, { 'X-A': { nested: 1 } });
    assert.equal(badValue.ok, false);
    assert.match(badValue.value.error, /X-A/);

    const fresh = { 'X-Session-Token': 'fresh', Authorization: 'Bearer fresh', 'X-Refresh': 2 };
    assert.deepEqual(await answerOf(uploader.updateHeaders.bind(uploader), settings.id, fresh), OK);
    const sent = first.bridge.calls.filter((call) => call.action === 'updateHeaders').at(-1);
    assert.equal(sent.args[0], settings.id);
    assert.deepEqual(JSON.parse(sent.args[1]), fresh, 'the headers go as JSON text, as given');

    // Killed before the retry: the new headers were stored; the wait for
    // Retry-After was not, so the relaunched engine tries at once.
    await first.kill();
    const second = await startApp(t, first.dataDir);
    const relaunched = new Events();
    uploader = second.FileTransferManager.init(config, relaunched.callback);
    const uploaded = await relaunched.terminal(settings.id);
    assert.equal(uploaded.state, 'UPLOADED');
    assert.equal(uploaded.statusCode, 201);
    const { headers } = receivedInfo(uploaded);
    assert.equal(headers['x-session-token'], 'fresh');
    assert.equal(headers['x-refresh'], '2');
    assert.equal(headers.authorization, '[redacted]', 'an Authorization header reached the receiver (which hides its value)');
    assert.ok(Date.now() - started < 25_000, 'not after the 30 s Retry-After');

    // Ended (and unknown) uploads are not in progress.
    for (const id of [settings.id, randomUUID()]) {
        assert.deepEqual(await answerOf(uploader.updateHeaders.bind(uploader), id, fresh),
            { ok: false, value: { error: `Upload ${id} is not in progress` } });
    }
});

test('getUploads: entries in acceptance order with their states, no secrets in URLs, unacknowledged events counted', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { bridge, FileTransferManager } = await startApp(t);
    const events = new Events();
    const uploader = FileTransferManager.init({ parallelUploadsLimit: 1, progressIntervalMillis: 100 }, events.callback);
    assert.deepEqual(await listingOf(uploader), { uploads: [], unacknowledgedEvents: 0 });
    assert.deepEqual(bridge.calls.at(-1), { action: 'getUploads', args: [] });

    await bridge.host('setNetworkReachable', [false]);
    const secretUrl = new URL(slow.url);
    secretUrl.username = 'user';
    secretUrl.password = 'secret-password';
    secretUrl.search = 'token=secret-token';
    secretUrl.hash = 'secret-fragment';
    const running = payload(files['large-a.bin'], { serverUrl: secretUrl.href });
    const paused = payload(files['other.bin']);
    const queued = payload(files['small.txt']);
    for (const settings of [running, paused, queued]) uploader.startUpload(settings);
    await stateOf(uploader, queued.id, 'waiting-for-network');
    let listing = await listingOf(uploader);
    assert.deepEqual(listing.uploads.map((entry) => entry.id), [running.id, paused.id, queued.id], 'in acceptance order');
    for (const [settings, file] of [[running, files['large-a.bin']], [paused, files['other.bin']], [queued, files['small.txt']]]) {
        assert.deepEqual(entryOf(listing, settings.id), {
            id: settings.id,
            state: 'waiting-for-network',
            attempt: 0,
            bytesSent: 0,
            bytesTotal: file.size,
            serverUrl: settings === running ? slow.url : fast.url,
            filePath: file.path
        });
    }
    const text = JSON.stringify(listing);
    for (const secret of ['user', 'secret-password', 'secret-token', 'secret-fragment']) {
        assert.equal(text.includes(secret), false, `${secret} is not listed: ${text}`);
    }

    // Online with one slot: the first runs, the second is paused, the third waits for the slot.
    assert.deepEqual(await answerOf(uploader.pauseUpload.bind(uploader), paused.id), OK);
    await bridge.host('setNetworkReachable', [true]);
    const run = await eventually(async () => {
        const entry = entryOf(await listingOf(uploader), running.id);
        return entry.state === 'running' && entry.bytesSent > 0 ? entry : undefined;
    }, 'the first upload sending');
    assert.equal(run.attempt, 1);
    assert.ok(run.bytesTotal >= files['large-a.bin'].size, 'the body is the file and the multipart framing');
    assert.equal('nextAttemptAt' in run, false, 'only a retrying upload has nextAttemptAt');
    listing = await listingOf(uploader);
    assert.equal(entryOf(listing, paused.id).state, 'paused');
    assert.equal(entryOf(listing, queued.id).state, 'queued');
    assert.equal(listing.unacknowledgedEvents, 0);

    // Terminal events are counted until acknowledged; ended uploads are not listed.
    const first = await events.terminal(running.id);
    const second = await events.terminal(queued.id);
    assert.deepEqual(await answerOf(uploader.removeUpload.bind(uploader), paused.id), OK);
    const removed = await events.terminal(paused.id);
    assert.equal(removed.errorCode, -999, 'a paused upload is removed as any other');
    listing = await listingOf(uploader);
    assert.deepEqual(listing, { uploads: [], unacknowledgedEvents: 3 });
    for (const event of [first, second, removed]) {
        assert.deepEqual(await answerOf(uploader.acknowledgeEvent.bind(uploader), event.eventId), OK);
    }
    assert.deepEqual(await listingOf(uploader), { uploads: [], unacknowledgedEvents: 0 });
});

test('queue control: ids are checked before any native call; callbacks are optional', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { bridge, FileTransferManager } = await startApp(t);
    const uploader = FileTransferManager.init({}, new Events().callback);
    const before = bridge.calls.length;
    for (const id of [undefined, null, '']) {
        assert.deepEqual(await answerOf(uploader.pauseUpload.bind(uploader), id), ID_REQUIRED);
        assert.deepEqual(await answerOf(uploader.resumeUpload.bind(uploader), id), ID_REQUIRED);
        assert.deepEqual(await answerOf(uploader.updateHeaders.bind(uploader), id, { a: 'b' }), ID_REQUIRED);
    }
    // Callbacks given where the headers go: refused, not sent as "no headers".
    assert.deepEqual(await answerOf(uploader.updateHeaders.bind(uploader), 'some id', () => {}),
        { ok: false, value: { error: 'headers must be an object, not a function' } });
    assert.deepEqual(bridge.calls.slice(before), [], 'none of these reached the native side');
    uploader.pauseUpload(undefined);
    uploader.resumeUpload(undefined);
    uploader.updateHeaders(undefined, {});
    uploader.getUploads();
    // Headers of the wrong type are the engine's to refuse, naming the field.
    const notAnObject = await answerOf(uploader.updateHeaders.bind(uploader), 'some id', 'Bearer x');
    assert.deepEqual(notAnObject, { ok: false, value: { error: 'headers must be an object, not a string' } });
});

test('statusPolicy: "any" keeps the reference rule; "standard" fails a 404 with its status and retries a 503', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { FileTransferManager } = await startApp(t);
    const events = new Events();
    const uploader = FileTransferManager.init({ maxAttempts: 2, initialBackoffMillis: 10, maxBackoffMillis: 5_000 }, events.callback);
    const file = files['small.txt'];

    // Default "any": a 404 is UPLOADED, as in the reference.
    const asReference = payload(file, { serverUrl: onDemand(fast, 'status=404') });
    uploader.startUpload(asReference);
    const uploaded404 = await events.terminal(asReference.id);
    assert.equal(uploaded404.state, 'UPLOADED');
    assert.equal(uploaded404.statusCode, 404);

    // "standard": FAILED with errorCode = the status, the answer kept.
    const refused = payload(file, { serverUrl: onDemand(fast, 'status=404'), statusPolicy: 'standard' });
    uploader.startUpload(refused);
    const failed = await events.terminal(refused.id);
    assert.deepEqual(Object.keys(failed).sort(), ['error', 'errorCode', 'eventId', 'id', 'serverResponse', 'state', 'statusCode']);
    assert.equal(failed.state, 'FAILED');
    assert.equal(failed.error, 'Server answered HTTP 404');
    assert.equal(failed.errorCode, 404);
    assert.equal(failed.statusCode, 404);
    assert.equal(receivedInfo(failed).sha256, file.sha256, 'serverResponse is the body the server answered');

    // A 503 with Retry-After: 1 is retried no sooner, then UPLOADED.
    const transient = payload(file, { serverUrl: onDemand(fast, 'status=503&retryAfter=1&times=1'), statusPolicy: 'standard' });
    const started = Date.now();
    uploader.startUpload(transient);
    const later = await events.terminal(transient.id);
    assert.equal(later.state, 'UPLOADED');
    assert.equal(later.statusCode, 201);
    assert.ok(Date.now() - started >= 950, `the retry waited for Retry-After (${Date.now() - started} ms)`);

    // Retried until maxAttempts: FAILED with the status and the count.
    const lasting = payload(file, { serverUrl: onDemand(fast, 'status=503&retryAfter=0'), statusPolicy: 'standard' });
    uploader.startUpload(lasting);
    const gaveUp = await events.terminal(lasting.id);
    assert.equal(gaveUp.state, 'FAILED');
    assert.equal(gaveUp.errorCode, 503);
    assert.equal(gaveUp.statusCode, 503);
    assert.equal(gaveUp.error, 'Server answered HTTP 503 (gave up after 2 attempts)');

    // Refused values name the field.
    const wrong = payload(file, { statusPolicy: 'x' });
    uploader.startUpload(wrong);
    const refusal = await events.waitFor((e) => e.id === wrong.id, 'the refusal');
    assert.deepEqual(refusal, {
        id: wrong.id,
        state: 'FAILED',
        error: 'statusPolicy must be "any" or "standard", not "x"',
        errorCode: -4001
    });
});

test('idempotencyKey: one quoted UUID v4 per upload on the wire; the payload overrides the config; no own key with it', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { FileTransferManager } = await startApp(t);
    const events = new Events();
    const uploader = FileTransferManager.init({ idempotencyKey: true, parallelUploadsLimit: 2 }, events.callback);
    const file = files['small.txt'];
    const one = payload(file);
    const two = payload(file);
    const without = payload(file, { idempotencyKey: false, headers: { 'Idempotency-Key': 'the-app-s-own' } });
    for (const settings of [one, two, without]) uploader.startUpload(settings);
    const keys = [];
    for (const settings of [one, two]) {
        const uploaded = await events.terminal(settings.id);
        const key = receivedInfo(uploaded).headers['idempotency-key'];
        assert.match(key, /^".*"$/, 'a structured-field string, quotes included');
        assert.match(key.slice(1, -1), UUID_V4);
        keys.push(key);
    }
    assert.notEqual(keys[0], keys[1], 'each upload draws its own');
    const own = await events.terminal(without.id);
    assert.equal(receivedInfo(own).headers['idempotency-key'], 'the-app-s-own', 'without the option, the app may send its own');

    const clash = payload(file, { headers: { 'idempotency-key': 'mine' } });
    uploader.startUpload(clash);
    const refusal = await events.waitFor((e) => e.id === clash.id, 'the refusal');
    assert.equal(refusal.eventId, undefined);
    assert.equal(refusal.errorCode, -4001);
    assert.match(refusal.error, /Idempotency-Key/i);
});

test('network "unmetered": waits on a metered network without a slot or an attempt; a running one stops, uncounted', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { bridge, FileTransferManager } = await startApp(t);
    const events = new Events();
    const uploader = FileTransferManager.init({ parallelUploadsLimit: 1, network: 'unmetered' }, events.callback);
    await bridge.host('setNetwork', [true, true]);
    const wifiOnly = payload(files['small.txt']);
    const anyNetwork = payload(files['other.bin'], { network: 'any' });
    uploader.startUpload(wifiOnly);
    uploader.startUpload(anyNetwork);
    // The payload's "any" overrides the config's "unmetered"; it takes the slot.
    assert.equal((await events.terminal(anyNetwork.id)).state, 'UPLOADED');
    const waiting = entryOf(await listingOf(uploader), wifiOnly.id);
    assert.equal(waiting.state, 'waiting-for-network');
    assert.equal(waiting.attempt, 0, 'no attempt was spent');
    assert.deepEqual(events.of(wifiOnly.id), [], 'nothing happens on a metered network');

    await bridge.host('setNetwork', [true, false]);
    assert.equal((await events.terminal(wifiOnly.id)).state, 'UPLOADED');

    // Running when the network turns metered: stopped, not counted (one
    // attempt only here), and sent whole once the network is unmetered.
    const file = files['large-b.bin'];
    const interrupted = payload(file, { serverUrl: slow.url });
    const oneAttempt = FileTransferManager.init({ maxAttempts: 1, network: 'unmetered', progressIntervalMillis: 100 }, events.callback);
    oneAttempt.startUpload(interrupted);
    await events.waitFor((e) => e.id === interrupted.id && e.state === 'UPLOADING', 'progress');
    await bridge.host('setNetwork', [true, true]);
    const stopped = await stateOf(oneAttempt, interrupted.id, 'waiting-for-network');
    assert.equal(stopped.bytesSent, 0);
    await sleep(QUIET_MS);
    assert.equal(events.of(interrupted.id).some((e) => e.eventId !== undefined), false, 'no terminal event on a metered network');
    await bridge.host('setNetwork', [true, false]);
    const resent = await events.terminal(interrupted.id);
    assert.equal(resent.state, 'UPLOADED');
    assert.equal(receivedInfo(resent).sha256, file.sha256);

    const wrong = payload(files['small.txt'], { network: 'wifi' });
    oneAttempt.startUpload(wrong);
    const refusal = await events.waitFor((e) => e.id === wrong.id, 'the refusal');
    assert.equal(refusal.error, 'network must be "any" or "unmetered", not "wifi"');
});
