// Test support for the plugin's JS: the plugin module loaded as Cordova
// loads it, a `cordova/exec` that talks to the `bgupload-bridge` process
// (the native side, on a data directory), the `bgupload serve` receiver on
// 127.0.0.1, and an event recorder. Every wait is bounded.
//
// Binaries come from BGUPLOAD_BIN_DIR (default: <repo>/target/debug);
// scripts/cordova-check.sh builds them.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const PLUGIN_JS = path.join(REPO, 'cordova', 'www', 'FileTransferManager.js');
const BIN_DIR = process.env.BGUPLOAD_BIN_DIR || path.join(REPO, 'target', 'debug');

/** Longest wait for one event, one native answer, or a process to start or stop. */
export const WAIT_MS = 30_000;
/** How long "nothing more arrives" is watched for. */
export const QUIET_MS = 400;
/** How often `eventually` looks again. */
export const POLL_MS = 50;

const SERVICE = 'BgUpload';

export function sleep (ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with `promise`, or rejects after `ms` naming `what`. */
function within (promise, ms, what) {
    let timer;
    const timeout = new Promise((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function exited (child) {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** A temporary directory, removed by `remove()`. */
export function tempDir (prefix) {
    const dir = mkdtempSync(path.join(tmpdir(), prefix));
    return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes `size` deterministic bytes to `file`; returns their SHA-256 (hex). */
export function writeTestFile (file, size, seed = 1) {
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
    writeFileSync(file, bytes);
    return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The plugin module as Cordova runs it: its source wrapped in
 * `function (require, exports, module)`, with `require('cordova/exec')`
 * answered by `exec`.
 */
export function loadPlugin (exec) {
    const source = readFileSync(PLUGIN_JS, 'utf8');
    const factory = vm.runInThisContext(
        `(function (require, exports, module) {${source}\n})`,
        { filename: PLUGIN_JS }
    );
    const module = { exports: {} };
    const require = (name) => {
        if (name === 'cordova/exec') return exec;
        throw new Error(`the plugin required ${name}; only cordova/exec exists`);
    };
    factory(require, module.exports, module);
    return module.exports;
}

/**
 * The native side: a `bgupload-bridge` process on `dataDir`. `exec` has
 * cordova.exec's signature and semantics: one answer per call, except
 * initManager, whose success callback is kept and receives the events
 * sent for it (as Cordova's keepCallback results).
 */
export class Bridge {
    static async start (dataDir) {
        const child = spawn(path.join(BIN_DIR, 'bgupload-bridge'), [dataDir], {
            stdio: ['pipe', 'pipe', 'pipe']
        });
        const bridge = new Bridge(child);
        await within(
            new Promise((resolve, reject) => {
                child.once('spawn', resolve);
                child.once('error', reject);
            }),
            WAIT_MS,
            'starting bgupload-bridge'
        );
        return bridge;
    }

    constructor (child) {
        this.child = child;
        this.nextId = 1;
        /** Calls waiting for their answer, by command id. */
        this.waiting = new Map();
        /** Kept initManager callbacks, by command id. */
        this.kept = new Map();
        /** Every call, in order: { action, args }. */
        this.calls = [];
        this.stderr = '';
        child.stderr.setEncoding('utf8');
        child.stderr.on('data', (text) => { this.stderr += text; });
        createInterface({ input: child.stdout }).on('line', (line) => this.receive(line));
        this.exec = this.exec.bind(this);
    }

    exec (success, fail, service, action, args) {
        assert.equal(service, SERVICE, 'the plugin calls its own service');
        const id = this.nextId++;
        this.calls.push({ action, args });
        this.waiting.set(id, { action, success, fail });
        // As Cordova's callbackId: events may come before the answer.
        if (action === 'initManager') this.kept.set(id, success);
        this.child.stdin.write(JSON.stringify({ id, action, args }) + '\n');
    }

    /** A call the host (not the app) makes, e.g. setNetworkReachable; resolves when answered. */
    host (action, args) {
        return within(
            new Promise((resolve, reject) => this.exec(resolve, (error) => reject(new Error(error)), SERVICE, action, args)),
            WAIT_MS,
            action
        );
    }

    receive (line) {
        const message = JSON.parse(line);
        if ('event' in message) {
            const kept = this.kept.get(message.callback);
            if (kept) kept(message.event);
            return;
        }
        const call = this.waiting.get(message.id);
        assert.ok(call, `an answer for a command that was not sent: ${line}`);
        this.waiting.delete(message.id);
        if (call.action === 'initManager') {
            // Cordova keeps the callback until an error result.
            if ('error' in message) {
                this.kept.delete(message.id);
                call.fail?.(message.error);
            }
            return;
        }
        if ('error' in message) call.fail?.(message.error);
        else call.success?.(message.ok);
    }

    /** The app exits: end of input, the engine closes. */
    async stop () {
        this.child.stdin.end();
        await within(exited(this.child), WAIT_MS, 'bgupload-bridge stopping');
        assert.equal(this.child.exitCode, 0, `bgupload-bridge failed: ${this.stderr}`);
    }

    /** The app is killed (SIGKILL). */
    async kill () {
        this.child.kill('SIGKILL');
        await within(exited(this.child), WAIT_MS, 'bgupload-bridge being killed');
    }
}

/** `bgupload serve` on 127.0.0.1 at a free port, storing into `dir`. */
export async function startReceiver (dir, { throttleBytesPerSec } = {}) {
    const args = ['serve', '--dir', dir, '--port', '0', '--host', '127.0.0.1'];
    if (throttleBytesPerSec) args.push('--throttle', String(throttleBytesPerSec));
    const child = spawn(path.join(BIN_DIR, 'bgupload'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text) => { stderr += text; });
    const lines = createInterface({ input: child.stdout });
    const url = await within(
        new Promise((resolve, reject) => {
            lines.on('line', (line) => {
                const found = /^listening on (http:\/\/127\.0\.0\.1:\d+\/\S*)/.exec(line);
                if (found) resolve(found[1]);
            });
            child.once('exit', () => reject(new Error(`bgupload serve exited: ${stderr}`)));
        }),
        WAIT_MS,
        'bgupload serve starting'
    );
    return {
        url,
        async stop () {
            child.kill('SIGINT');
            await within(exited(child), WAIT_MS, 'bgupload serve stopping');
        }
    };
}

/** Records the events a callback receives and waits for them. */
export class Events {
    constructor () {
        this.list = [];
        this.listeners = new Set();
        this.callback = (event) => {
            this.list.push(event);
            for (const listener of this.listeners) listener();
        };
    }

    /** The first event matching `predicate` (already received or to come). */
    async waitFor (predicate, what, ms = WAIT_MS) {
        const found = () => this.list.find(predicate);
        if (found()) return found();
        let listener;
        try {
            return await within(
                new Promise((resolve) => {
                    listener = () => { if (found()) resolve(found()); };
                    this.listeners.add(listener);
                }),
                ms,
                `waiting for ${what}; events so far: ${JSON.stringify(this.list)}`
            );
        } finally {
            this.listeners.delete(listener);
        }
    }

    /** The terminal event (UPLOADED, or FAILED with eventId) of upload `id`. */
    terminal (id, ms = WAIT_MS) {
        return this.waitFor(
            (event) => event.id === id && event.eventId !== undefined,
            `the terminal event of ${id}`,
            ms
        );
    }

    of (id) {
        return this.list.filter((event) => event.id === id);
    }

    /** Waits QUIET_MS, then returns the events received meanwhile. */
    async quietAfter (count = this.list.length) {
        await sleep(QUIET_MS);
        return this.list.slice(count);
    }
}

/**
 * Polls `probe` (async) until it returns a value other than undefined,
 * every POLL_MS, for at most `ms`; resolves with that value, or rejects
 * naming `what` and the last thing `describe` said.
 */
export async function eventually (probe, what, { ms = WAIT_MS, describe = () => '' } = {}) {
    const deadline = Date.now() + ms;
    for (;;) {
        const found = await probe();
        if (found !== undefined) return found;
        if (Date.now() >= deadline) {
            throw new Error(`${what}: not within ${ms} ms; last seen: ${describe()}`);
        }
        await sleep(POLL_MS);
    }
}

/** Calls `method(...args, ok, err)` and resolves with the callback that fired. */
export function answerOf (method, ...args) {
    return within(
        new Promise((resolve) => {
            method(...args, (value) => resolve({ ok: true, value }), (value) => resolve({ ok: false, value }));
        }),
        WAIT_MS,
        'a success or error callback'
    );
}
