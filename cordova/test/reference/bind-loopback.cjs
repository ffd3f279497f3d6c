// Preloaded (`node --require`) into the reference plugin's test server,
// whose `app.listen(PORT)` would bind every interface: every TCP listen in
// that process is forced onto 127.0.0.1, and the address it got is printed
// as one line for run.mjs:
//
//   bgupload-reference-server listening on 127.0.0.1:PORT
//
// Pipes (a path) are left alone; a listen that names another host is
// refused, so nothing of this process is ever reachable from outside.
'use strict';

if (require.main === module) {
    // Found by `node --test cordova/test/` (every file under test/ is taken).
    require('node:test').test('bind-loopback.cjs', { skip: 'a preload of run.mjs, not a test' });
    return;
}

const net = require('node:net');

const LOOPBACK = '127.0.0.1';
const listen = net.Server.prototype.listen;

function isPort (value) {
    return typeof value === 'number' || (typeof value === 'string' && /^\d+$/.test(value));
}

net.Server.prototype.listen = function (...args) {
    if (args.length === 0 || typeof args[0] === 'function') {
        args.unshift(0); // listen([callback]): a random port
    } else if (args[0] === undefined || args[0] === null) {
        args[0] = 0;
    }
    const [first] = args;
    if (isPort(first)) {
        // listen(port[, host][, backlog][, callback])
        if (typeof args[1] === 'string') {
            if (args[1] !== LOOPBACK && args[1] !== 'localhost') {
                throw new Error(`bind-loopback: refusing to listen on ${args[1]}`);
            }
            args[1] = LOOPBACK;
        } else {
            args.splice(1, 0, LOOPBACK);
        }
    } else if (typeof first === 'object' && first.path === undefined && !('_handle' in first) && !('fd' in first)) {
        // listen(options[, callback])
        if (first.host !== undefined && first.host !== LOOPBACK && first.host !== 'localhost') {
            throw new Error(`bind-loopback: refusing to listen on ${first.host}`);
        }
        args[0] = { ...first, host: LOOPBACK };
    } else if (typeof first !== 'string') {
        // A handle or a file descriptor: its address is not ours to choose.
        throw new Error('bind-loopback: refusing to listen on a handle or file descriptor');
    }
    this.once('listening', () => {
        const address = this.address();
        if (address && typeof address === 'object') {
            if (address.address !== LOOPBACK) {
                // Cannot happen with the arguments above; never serve if it does.
                console.error(`bind-loopback: listening on ${address.address}, not ${LOOPBACK}`);
                process.exit(70);
            }
            process.stdout.write(`bgupload-reference-server listening on ${LOOPBACK}:${address.port}\n`);
        }
    });
    return listen.apply(this, args);
};
