// The reference plugin's own jasmine specs over this engine.
//
// @spoonconsulting/cordova-plugin-background-upload ships tests/tests.js
// (cordova-paramedic style: `exports.defineAutoTests = function () {...}`),
// a test server (tests/test-server/app.js: express + busboy) and photos
// (tests/tree*.jpg). None of it is in this repository: scripts/reference-specs.sh
// fetches the package with `npm pack` and installs jasmine-core, express and
// busboy; this file runs the specs from there, unchanged but for the named
// PATCHES below (applied to the text at load time; each one fails the run if
// the text it patches is not found exactly once).
//
//   BGUPLOAD_REFERENCE_DIR  the unpacked package (holds tests/tests.js)
//   BGUPLOAD_REFERENCE_TOOLS  a dir whose node_modules holds jasmine-core,
//                           express and busboy (or: --tools DIR)
//   BGUPLOAD_BIN_DIR        bgupload-bridge's dir (default target/debug)
//
// (The versions of all three are pinned there, jasmine-core's with why.)
//
// What stands where in the app the specs were written for:
// - the native side: one `bgupload-bridge` on a temporary data directory for
//   the whole run (cordova/test/support.mjs), under the plugin module
//   cordova/www/FileTransferManager.js loaded as Cordova loads it;
// - `FileTransferManager`: an adapter over that module (see
//   makeFileTransferManager) for the two things tests.js expects of an older
//   plugin: an INITIALIZED event, and startUpload's error callback;
// - `TestUtils`: ours (not the reference's test-utils.js, which needs
//   cordova-plugin-file): copies the photos into a temporary data directory;
// - `window.cordova`: platformId 'ios', so that the specs' server is
//   http://localhost:3000/upload, which the adapter points at our proxy;
// - the reference's own test server, bound to 127.0.0.1 only, behind a
//   throttling proxy of ours (startThrottlingProxy says why).
//
// Exits 0 only if every spec defined ran and passed.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, rm } from 'node:fs/promises';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Transform } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { Bridge, loadPlugin, tempDir } from '../support.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIND_LOOPBACK = path.join(HERE, 'bind-loopback.cjs');

const MIB = 1024 * 1024;
/** Longest wait for a process to start or stop. */
const START_STOP_MS = 30_000;
/** The whole jasmine run (each spec is bounded too: tests.js sets 60 s). */
const RUN_MS = 25 * 60_000;
/** jasmine's timeout outside the specs' own (beforeEach, afterEach). */
const DEFAULT_TIMEOUT_MS = 120_000;
/** The upload speed the proxy allows per connection (startThrottlingProxy). */
const PROXY_BYTES_PER_SEC = 8 * MIB;
/** The server tests.js names; the adapter sends its uploads to the proxy. */
const SPEC_SERVER = 'http://localhost:3000/';

/**
 * Adaptations of tests.js, each applied to the text of one spec (from its
 * `it(` to the next `it(` or `describe(`), where `find` must occur exactly
 * once. Keep these few: a spec our engine fails is to be fixed in the
 * engine, not here.
 */
const PATCHES = [
    {
        name: 'refused-upload-has-no-event-to-acknowledge',
        spec: "it('sends a FAILED event if upload fails', function (done) {",
        find: 'nativeUploader.acknowledgeEvent(upload.eventId, done)',
        replace: 'expect(upload.eventId).toBeUndefined(); done()',
        reason: "the engine refuses serverUrl 'dummy_url' at startUpload: its FAILED has error and errorCode but no " +
            'eventId (nothing was accepted, nothing to acknowledge), and acknowledgeEvent(undefined, done) never calls done'
    }
];

function option (name, envName) {
    const at = process.argv.indexOf(`--${name}`);
    const value = at >= 0 ? process.argv[at + 1] : process.env[envName];
    if (!value) throw new Error(`--${name} DIR or ${envName} is required`);
    return path.resolve(value);
}

function within (promise, ms, what) {
    let timer;
    const timeout = new Promise((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function exited (child) {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Where `text` occurs in `source`; throws unless exactly once. */
function indexOfOnce (source, text, where) {
    const at = source.indexOf(text);
    if (at < 0 || source.indexOf(text, at + 1) >= 0) {
        throw new Error(`${where}: ${JSON.stringify(text)} occurs ${at < 0 ? 'nowhere' : 'more than once'}`);
    }
    return at;
}

const SPEC_START = /\b[fx]?(?:it|describe)\(/g;

export function applyPatches (source, patches = PATCHES) {
    for (const patch of patches) {
        const where = `tests.js patch ${patch.name}`;
        const start = indexOfOnce(source, patch.spec, where);
        SPEC_START.lastIndex = start + patch.spec.length;
        const next = SPEC_START.exec(source);
        const end = next ? next.index : source.length;
        const body = source.slice(start, end);
        const at = indexOfOnce(body, patch.find, `${where}, in ${patch.spec}`);
        source = source.slice(0, start + at) + patch.replace + source.slice(start + at + patch.find.length);
        console.log(`reference specs: patch ${patch.name} applied to ${patch.spec}`);
        console.log(`  ${JSON.stringify(patch.find)} -> ${JSON.stringify(patch.replace)}`);
        console.log(`  why: ${patch.reason}`);
    }
    return source;
}

/** The number of `it(` calls in the text: the specs it should define. */
export function specsInSource (source) {
    return (source.match(/\b[fx]?it\(/g) || []).length;
}

/**
 * The reference's tests/test-server/app.js, run by node with its cwd in
 * `dir` (it writes into ./uploads), PORT=0 and bind-loopback.cjs preloaded:
 * it listens on 127.0.0.1 only, at the port that line reports.
 */
async function startReferenceServer (referenceDir, toolsDir, dir) {
    mkdirSync(path.join(dir, 'uploads'), { recursive: true });
    const app = path.join(referenceDir, 'tests', 'test-server', 'app.js');
    const child = spawn(process.execPath, ['--require', BIND_LOOPBACK, app], {
        cwd: dir,
        env: { ...process.env, PORT: '0', NODE_PATH: path.join(toolsDir, 'node_modules') },
        stdio: ['ignore', 'pipe', 'pipe']
    });
    let output = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text) => {
        output += text;
        process.stderr.write(`[reference server] ${text}`);
    });
    const port = await within(
        new Promise((resolve, reject) => {
            createInterface({ input: child.stdout }).on('line', (line) => {
                const found = /^bgupload-reference-server listening on 127\.0\.0\.1:(\d+)$/.exec(line);
                if (found) resolve(Number(found[1]));
                else output += `${line}\n`;
            });
            child.once('error', reject);
            child.once('exit', (code, signal) => reject(new Error(`the reference server exited (${code ?? signal}): ${output}`)));
        }),
        START_STOP_MS,
        'the reference server starting'
    ).catch((error) => {
        child.kill('SIGKILL');
        throw error;
    });
    return {
        port,
        child,
        async stop () {
            if (child.exitCode !== null || child.signalCode !== null) return;
            child.kill('SIGTERM');
            await within(exited(child), START_STOP_MS, 'the reference server stopping').catch(async () => {
                child.kill('SIGKILL');
                await within(exited(child), START_STOP_MS, 'the reference server being killed');
            });
        }
    };
}

/** Passes at most `bytesPerSec` through (on average), in the order received. */
class Throttle extends Transform {
    constructor (bytesPerSec) {
        super();
        this.bytesPerSec = bytesPerSec;
        this.due = 0;
        this.timer = null;
    }

    _transform (chunk, _encoding, next) {
        const now = performance.now();
        this.due = Math.max(this.due, now) + (chunk.length * 1000) / this.bytesPerSec;
        this.push(chunk);
        // The next chunk is taken once this one's share of time has passed.
        this.timer = setTimeout(next, Math.max(0, this.due - now));
    }

    _destroy (error, callback) {
        clearTimeout(this.timer);
        callback(error);
    }
}

/**
 * A TCP proxy on 127.0.0.1 in front of the reference server, slowing what
 * the engine sends to `bytesPerSec` per connection (answers pass as they
 * come). On loopback a 6.4 MB photo goes in some tens of milliseconds, and
 * "sends a FAILED callback when upload is removed" (which calls
 * removeUpload when it sees UPLOADING) races the upload's end: losing it
 * gives UPLOADED, which that spec ignores until it times out. At 8 MiB/s
 * the photo takes about 0.8 s, the removal a few milliseconds.
 */
async function startThrottlingProxy (upstreamPort, bytesPerSec) {
    const sockets = new Set();
    const server = net.createServer((client) => {
        const upstream = net.connect(upstreamPort, '127.0.0.1');
        for (const socket of [client, upstream]) {
            sockets.add(socket);
            socket.once('close', () => sockets.delete(socket));
        }
        const close = () => {
            client.destroy();
            upstream.destroy();
        };
        for (const socket of [client, upstream]) {
            socket.on('error', close);
            socket.on('close', close);
        }
        const throttle = new Throttle(bytesPerSec);
        throttle.on('error', close);
        client.pipe(throttle).pipe(upstream);
        upstream.pipe(client);
    });
    await within(
        new Promise((resolve, reject) => {
            server.once('error', reject);
            server.listen(0, '127.0.0.1', resolve);
        }),
        START_STOP_MS,
        'the throttling proxy starting'
    );
    return {
        port: server.address().port,
        async stop () {
            for (const socket of sockets) socket.destroy();
            await within(new Promise((resolve) => server.close(() => resolve())), START_STOP_MS, 'the proxy stopping');
        }
    };
}

/**
 * window.FileTransferManager as tests.js expects it, over our plugin module
 * (`plugin`, loaded over `bridge`). `record(to, event)` sees every event
 * handed to a spec.
 *
 * - init(options, callback): our init, and then, once the native side has
 *   answered initManager (not before: a spec may start uploads from it),
 *   one `{state: 'INITIALIZED'}` for `callback`, asynchronously. The
 *   reference v4, like ours, never sends that event; the specs wait for it.
 *   Events the engine delivers again at init (unacknowledged ones) may come
 *   before or after it. Not sent if destroy came first.
 * - startUpload(payload, success, error): in v4 and ours a refused
 *   startUpload reaches the global callback, as FAILED without eventId; when
 *   a spec gives `error`, the first such event for this payload (same id, or
 *   no id when the payload has none) goes to `error` instead. `success` is
 *   never called (nor is it in v4). A serverUrl on http://localhost:3000/ is
 *   sent to the proxy instead.
 * - removeUpload, acknowledgeEvent, destroy: as they are.
 */
function makeFileTransferManager ({ bridge, proxyOrigin, record }) {
    let initHook = null;
    const initHooks = new Map();
    const exec = (success, fail, service, action, args) => {
        const id = bridge.nextId;
        bridge.exec(success, fail, service, action, args);
        assert.equal(bridge.nextId, id + 1, 'bgupload-bridge numbers commands one by one');
        if (action === 'initManager') {
            assert.ok(initHook, 'initManager is called from init only');
            initHooks.set(id, initHook);
            initHook = null;
        }
    };
    // The bridge's line handler calls bridge.receive: watch initManager's answer.
    const receive = bridge.receive.bind(bridge);
    bridge.receive = (line) => {
        receive(line);
        const message = JSON.parse(line);
        if ('event' in message || !initHooks.has(message.id)) return;
        const hook = initHooks.get(message.id);
        initHooks.delete(message.id);
        if (!('error' in message)) setImmediate(hook);
    };
    const plugin = loadPlugin(exec);

    return {
        init (options, callback) {
            const routes = [];
            let destroyed = false;
            const deliver = (event) => {
                if (event && event.state === 'FAILED' && event.eventId === undefined) {
                    const at = routes.findIndex((route) => route.id === event.id);
                    if (at >= 0) {
                        const [route] = routes.splice(at, 1);
                        record('error callback', event);
                        route.error(event);
                        return;
                    }
                }
                record('callback', event);
                callback(event);
            };
            initHook = () => {
                if (destroyed) return;
                const initialized = { state: 'INITIALIZED' };
                record('callback', initialized);
                callback(initialized);
            };
            let uploader;
            try {
                uploader = plugin.init(options, deliver);
            } finally {
                initHook = null;
            }
            return {
                startUpload (payload, success, error) {
                    if (typeof error === 'function') {
                        routes.push({ id: payload && payload.id ? payload.id : undefined, error });
                    }
                    let settings = payload;
                    if (payload && typeof payload.serverUrl === 'string' && payload.serverUrl.startsWith(SPEC_SERVER)) {
                        settings = { ...payload, serverUrl: proxyOrigin + payload.serverUrl.slice(SPEC_SERVER.length - 1) };
                    }
                    uploader.startUpload(settings);
                },
                removeUpload: (id, success, error) => uploader.removeUpload(id, success, error),
                acknowledgeEvent: (eventId, success, error) => uploader.acknowledgeEvent(eventId, success, error),
                destroy (success, error) {
                    destroyed = true;
                    uploader.destroy(success, error);
                }
            };
        }
    };
}

/** TestUtils for tests.js: the package's photos, copied into `dataDir`. */
function makeTestUtils (referenceDir, dataDir) {
    return {
        /** Resolves with the file:// URL of the copy (our engine takes those). */
        async copyFileToDataDirectory (name) {
            const copy = path.join(dataDir, name);
            await copyFile(path.join(referenceDir, 'tests', name), copy);
            return pathToFileURL(copy).href;
        },
        async deleteFile (name) {
            await rm(path.join(dataDir, name), { force: true });
        }
    };
}

function indent (text, prefix) {
    return String(text).split('\n').map((line) => prefix + line).join('\n');
}

/** Prints each spec as it ends and keeps the counts. */
function makeReporter (specLog) {
    const counts = { defined: 0, run: 0, passed: 0 };
    const failures = [];
    let finish;
    const finished = new Promise((resolve) => { finish = resolve; });
    const printFailures = (title, expectations) => {
        for (const failed of expectations) {
            console.log(indent(failed.message, '      - '));
            const stack = String(failed.stack || '')
                .split('\n')
                .filter((line) => /tests\.js|run\.mjs|support\.mjs|FileTransferManager\.js/.test(line))
                .slice(0, 3);
            if (stack.length) console.log(indent(stack.map((line) => line.trim()).join('\n'), '          '));
        }
        failures.push(title);
    };
    return {
        counts,
        failures,
        /** Resolves with jasmineDone's info. */
        finished,
        jasmineStarted (info) {
            counts.defined = info.totalSpecsDefined;
            console.log(`reference specs: ${info.totalSpecsDefined} defined, in order (random: ${info.order.random})`);
        },
        specStarted () {
            specLog.length = 0;
        },
        specDone (result) {
            counts.run += 1;
            const ok = result.status === 'passed';
            if (ok) counts.passed += 1;
            console.log(`[${String(counts.run).padStart(2)}/${counts.defined}] ${ok ? 'passed' : result.status.toUpperCase()}  ` +
                `${result.fullName} (${result.duration} ms)`);
            if (!ok) {
                printFailures(result.fullName, result.failedExpectations);
                if (result.pendingReason) console.log(`      - pending: ${result.pendingReason}`);
                if (specLog.length) {
                    console.log('      events handed to the spec:');
                    for (const line of specLog.slice(-30)) {
                        console.log(`        ${line.length > 300 ? `${line.slice(0, 300)}…` : line}`);
                    }
                }
            }
            for (const warning of result.deprecationWarnings || []) console.log(`      deprecation: ${warning.message}`);
        },
        suiteDone (result) {
            for (const warning of result.deprecationWarnings || []) console.log(`deprecation (${result.fullName}): ${warning.message}`);
            if (result.failedExpectations.length) {
                console.log(`suite FAILED: ${result.fullName}`);
                printFailures(`suite ${result.fullName}`, result.failedExpectations);
            }
        },
        jasmineDone (info) {
            for (const warning of info.deprecationWarnings || []) console.log(`deprecation: ${warning.message}`);
            if (info.failedExpectations.length) {
                console.log('global errors:');
                printFailures('global errors', info.failedExpectations);
            }
            if (info.incompleteReason) console.log(`reference specs: incomplete: ${info.incompleteReason}`);
            finish(info);
        }
    };
}

async function main () {
    const referenceDir = option('reference', 'BGUPLOAD_REFERENCE_DIR');
    const toolsDir = option('tools', 'BGUPLOAD_REFERENCE_TOOLS');
    const testsJs = path.join(referenceDir, 'tests', 'tests.js');
    for (const file of [testsJs, path.join(referenceDir, 'tests', 'test-server', 'app.js')]) {
        if (!existsSync(file)) throw new Error(`${file} is missing (scripts/reference-specs.sh fetches the package)`);
    }
    const referenceVersion = JSON.parse(readFileSync(path.join(referenceDir, 'package.json'), 'utf8')).version;
    const requireTool = createRequire(path.join(toolsDir, 'node_modules', 'tools.cjs'));
    const jasmineRequire = requireTool('jasmine-core');
    const jasmineVersion = requireTool('jasmine-core/package.json').version;
    console.log(`reference specs: ${referenceDir} (version ${referenceVersion}), jasmine-core ${jasmineVersion}`);

    const source = applyPatches(readFileSync(testsJs, 'utf8'));
    const expectedSpecs = specsInSource(source);

    const work = tempDir('bgupload-reference-specs-');
    const cleanups = [];
    const cleanUp = async () => {
        let failed = false;
        while (cleanups.length) {
            const [what, step] = cleanups.pop();
            try {
                await step();
            } catch (error) {
                failed = true;
                console.error(`reference specs: cleaning up (${what}): ${error.message}`);
            }
        }
        return !failed;
    };
    // On SIGTERM (`timeout`) or ^C: no server is left behind.
    let server;
    let bridge;
    for (const signal of ['SIGINT', 'SIGTERM']) {
        process.once(signal, () => {
            console.error(`reference specs: ${signal}: stopping`);
            server?.child.kill('SIGKILL');
            bridge?.child.kill('SIGKILL');
            work.remove();
            process.exit(1);
        });
    }
    cleanups.push(['the temporary directory', async () => work.remove()]);
    let ok = false;
    try {
        server = await startReferenceServer(referenceDir, toolsDir, path.join(work.dir, 'server'));
        cleanups.push(['the reference server', () => server.stop()]);
        const proxy = await startThrottlingProxy(server.port, PROXY_BYTES_PER_SEC);
        cleanups.push(['the proxy', () => proxy.stop()]);
        console.log(`reference specs: the reference server on 127.0.0.1:${server.port}, ` +
            `behind a proxy on 127.0.0.1:${proxy.port} (${PROXY_BYTES_PER_SEC / MIB} MiB/s upstream)`);
        bridge = await Bridge.start(path.join(work.dir, 'engine'));
        cleanups.push(['bgupload-bridge', () => bridge.stop()]);

        const jasmine = jasmineRequire.core(jasmineRequire);
        const env = jasmine.getEnv();
        Object.assign(globalThis, jasmineRequire.interface(jasmine, env));
        jasmine.DEFAULT_TIMEOUT_INTERVAL = DEFAULT_TIMEOUT_MS;
        env.configure({ random: false });
        const specLog = [];
        const reporter = makeReporter(specLog);
        env.addReporter(reporter);

        const dataDir = path.join(work.dir, 'data');
        mkdirSync(dataDir);
        globalThis.window = globalThis;
        window.cordova = {
            platformId: 'ios',
            file: {
                applicationDirectory: pathToFileURL(path.join(referenceDir, 'tests')).href + '/',
                dataDirectory: pathToFileURL(dataDir).href + '/'
            }
        };
        globalThis.TestUtils = makeTestUtils(referenceDir, dataDir);
        globalThis.FileTransferManager = makeFileTransferManager({
            bridge,
            proxyOrigin: `http://127.0.0.1:${proxy.port}`,
            record: (to, event) => specLog.push(`${to}: ${JSON.stringify(event)}`)
        });

        const define = vm.runInThisContext(`(function (exports, require, module) {${source}\n})`, { filename: testsJs });
        const module = { exports: {} };
        define(module.exports, () => { throw new Error('tests.js requires nothing here'); }, module);
        assert.equal(typeof module.exports.defineAutoTests, 'function', 'tests.js exports defineAutoTests');
        module.exports.defineAutoTests();

        env.execute();
        const done = await within(reporter.finished, RUN_MS, 'the jasmine run');
        const { defined, run, passed } = reporter.counts;
        console.log('');
        if (defined !== expectedSpecs) {
            console.log(`reference specs: FAILED: jasmine defined ${defined} specs, tests.js has ${expectedSpecs} it() calls`);
        }
        if (run !== defined) console.log(`reference specs: FAILED: ${run} of ${defined} specs ran`);
        if (reporter.failures.length) {
            console.log('reference specs: failures:');
            for (const title of reporter.failures) console.log(`  ${title}`);
        }
        ok = done.overallStatus === 'passed' && defined > 0 && defined === expectedSpecs &&
            run === defined && passed === defined && reporter.failures.length === 0;
        console.log(`reference specs: ${passed} of ${defined} passed` + (ok ? '' : `, ${defined - passed} not (${done.overallStatus})`));
    } finally {
        if (!await cleanUp()) ok = false;
    }
    return ok;
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain && process.env.NODE_TEST_CONTEXT && !process.env.BGUPLOAD_REFERENCE_DIR) {
    // Found by `node --test cordova/test/` (every file under test/ is taken):
    // without the fetched package there is nothing to run here.
    const { test } = await import('node:test');
    test("the reference plugin's jasmine specs", { skip: 'scripts/reference-specs.sh runs them' });
} else if (isMain) {
    main().then(
        (ok) => process.exit(ok ? 0 : 1),
        (error) => {
            console.error(`reference specs: FAILED: ${error.stack || error}`);
            process.exit(1);
        }
    );
}
