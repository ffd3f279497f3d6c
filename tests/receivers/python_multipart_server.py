#!/usr/bin/env python3
"""An upload receiver on a different multipart parser than the engine's own
receiver: `python-multipart` (PyPI), streamed, on Python's threaded
http.server. Used by tests/scenarios.rs.

It answers like the reference plugin's test server: POST -> 201, PUT -> 200,
JSON {"receivedInfo": {originalFilename, headers, parameters, fileKey, size,
sha256, parameterOrder}}. A path /status/NNN/... forces status NNN (after the
whole body was read). GET /stats -> {"maxConcurrent", "completed",
"received": [...]}. A raw (non-multipart) body is stored whole.

Usage: python_multipart_server.py --dir DIR [--throttle BYTES_PER_SEC]
Prints "READY <port>" on stdout once listening on 127.0.0.1 (port chosen by
the system). Exits 3 with a message on stderr when python-multipart is
missing. Install: python3 -m pip install python-multipart
"""

import argparse
import hashlib
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from python_multipart.multipart import MultipartParser, parse_options_header
except ImportError:  # releases before 0.0.13 ship the module as `multipart`
    try:
        from multipart.multipart import MultipartParser, parse_options_header
    except ImportError:
        sys.stderr.write(
            "python-multipart is not installed for %s; install it with: "
            "python3 -m pip install python-multipart\n" % sys.executable
        )
        sys.exit(3)

CHUNK = 64 * 1024
MAX_PARAMETER_BYTES = 1024 * 1024


class State:
    def __init__(self, directory, throttle):
        self.directory = directory
        self.throttle = throttle
        self.lock = threading.Lock()
        self.active = 0
        self.max_concurrent = 0
        self.completed = 0
        self.next_number = 1
        self.received = []

    def enter(self):
        with self.lock:
            self.active += 1
            self.max_concurrent = max(self.max_concurrent, self.active)

    def leave(self):
        with self.lock:
            self.active -= 1

    def new_path(self, name):
        base = os.path.basename(name.replace("\\", "/")) or "upload"
        safe = "".join(c if c.isalnum() or c in ".-_" else "_" for c in base)
        safe = safe.lstrip(".") or "upload"
        with self.lock:
            number = self.next_number
            self.next_number += 1
        return os.path.join(self.directory, "%d-%s" % (number, safe[:100]))


def read_body(handler, state, length, sink):
    """Feeds `length` body bytes to `sink`, at most `state.throttle` B/s."""
    started = time.monotonic()
    done = 0
    while done < length:
        chunk = handler.rfile.read(min(CHUNK, length - done))
        if not chunk:
            raise ConnectionError("client closed after %d of %d bytes" % (done, length))
        done += len(chunk)
        sink(chunk)
        if state.throttle:
            wait = started + done / state.throttle - time.monotonic()
            if wait > 0:
                time.sleep(wait)


class FileSink:
    def __init__(self, path):
        self.path = path
        self.file = open(path, "wb")
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self.file.write(data)
        self.hash.update(data)
        self.size += len(data)

    def close(self):
        self.file.close()


class MultipartReceiver:
    """Callbacks for MultipartParser: text fields kept, the file part stored."""

    def __init__(self, state):
        self.state = state
        self.parameters = []
        self.file = None
        self.file_key = None
        self.original_filename = None
        self._header_field = b""
        self._header_value = b""
        self._headers = {}
        self._part = None

    def callbacks(self):
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
        }

    def on_part_begin(self):
        self._headers = {}
        self._part = None

    def on_header_field(self, data, start, end):
        self._header_field += data[start:end]

    def on_header_value(self, data, start, end):
        self._header_value += data[start:end]

    def on_header_end(self):
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = b""
        self._header_value = b""

    def on_headers_finished(self):
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is not None:
            if self.file is not None:
                raise ValueError("more than one file part")
            self.original_filename = filename.decode("utf-8", "replace")
            self.file_key = name
            self.file = FileSink(self.state.new_path(self.original_filename))
            self._part = ("file", None)
        else:
            self._part = ("field", name, bytearray())

    def on_part_data(self, data, start, end):
        if self._part[0] == "file":
            self.file.write(data[start:end])
        else:
            value = self._part[2]
            value += data[start:end]
            if len(value) > MAX_PARAMETER_BYTES:
                raise ValueError("text field too large")

    def on_part_end(self):
        if self._part and self._part[0] == "field":
            self.parameters.append([self._part[1], self._part[2].decode("utf-8", "replace")])
        self._part = None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None  # set in main

    def log_message(self, format, *args):  # quiet
        pass

    def answer(self, status, value):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        state = self.state
        if self.path == "/stats":
            with state.lock:
                stats = {
                    "maxConcurrent": state.max_concurrent,
                    "completed": state.completed,
                    "received": list(state.received),
                }
            self.answer(200, stats)
        else:
            self.answer(404, {"error": "not found"})

    def do_POST(self):
        self.receive(201)

    def do_PUT(self):
        self.receive(200)

    def receive(self, default_status):
        state = self.state
        state.enter()
        try:
            self.receive_inner(default_status)
        except Exception as error:  # the client went away or sent garbage
            self.close_connection = True
            try:
                self.answer(400, {"error": str(error)})
            except Exception:
                pass
        finally:
            state.leave()

    def receive_inner(self, default_status):
        state = self.state
        length = int(self.headers.get("Content-Length", "0"))
        content_type = self.headers.get("Content-Type", "")
        mime, options = parse_options_header(content_type)
        receiver = MultipartReceiver(state)
        if mime == b"multipart/form-data":
            parser = MultipartParser(options[b"boundary"], receiver.callbacks())
            read_body(self, state, length, parser.write)
            parser.finalize()
            if receiver.file is None:
                raise ValueError("no file part")
        else:
            name = self.path.rstrip("/").rsplit("/", 1)[-1]
            receiver.original_filename = name
            receiver.file = FileSink(state.new_path(name))
            read_body(self, state, length, receiver.file.write)
        receiver.file.close()
        status = default_status
        parts = self.path.split("/")
        if len(parts) > 2 and parts[1] == "status":
            status = int(parts[2])
        info = {
            "originalFilename": receiver.original_filename,
            "headers": {name.lower(): value for name, value in self.headers.items()},
            "parameters": dict(receiver.parameters),
            "parameterOrder": receiver.parameters,
            "fileKey": receiver.file_key,
            "size": receiver.file.size,
            "sha256": receiver.file.hash.hexdigest(),
            "method": self.command,
        }
        with state.lock:
            state.completed += 1
            state.received.append(info)
        self.answer(status, {"receivedInfo": info})


def main():
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--dir", required=True)
    arguments.add_argument("--throttle", type=float, default=0.0)
    options = arguments.parse_args()
    os.makedirs(options.dir, exist_ok=True)
    Handler.state = State(options.dir, options.throttle)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("READY %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
