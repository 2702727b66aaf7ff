"""A pushed step stream read from a stand-in runtime (an HTTP server in this process): heartbeat
frames between steps are skipped, and a stream that goes silent, not even a heartbeat, fails as
``unavailable`` after the client's silence limit instead of waiting for good. Prints ``ok <what>``
lines."""

import json
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

import strata
import strata.client

LAYOUT = {"byteLength": 16, "slots": [{
    "name": "x", "variable": "x", "origin": [0], "axes": [{"dim": 0, "step": 1, "count": 2}],
    "fields": [{"path": "", "type": "float64", "count": 1, "offset": 0, "strides": [8]}]}]}


def frame(header, payload=b""):
    text = json.dumps(header).encode()
    return struct.pack(">I", len(text)) + text + payload


class Runtime(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("content-type", "application/x-strata-steps")
        self.send_header("connection", "close")
        self.end_headers()
        silent = "silent" in self.path
        self.wfile.write(frame({"heartbeat": True}))
        self.wfile.write(frame({"version": 1, "dropped": 0, "layout": LAYOUT, "bytes": 16},
                               np.array([1.5, 2.5]).tobytes()))
        self.wfile.flush()
        if silent:
            # Stopped without closing its connection: nothing more, until the test ends.
            self.server.done.wait(10)
            return
        for _ in range(3):
            time.sleep(0.05)
            self.wfile.write(frame({"heartbeat": True}))
            self.wfile.flush()
        self.wfile.write(frame({"version": 2, "dropped": 0, "layout": LAYOUT, "bytes": 16},
                               np.array([3.5, 4.5]).tobytes()))
        self.wfile.write(frame({"heartbeat": True}))
        self.wfile.write(frame({"error": {"code": "timeout", "message": "No version came"}}))
        self.wfile.flush()


server = ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
server.done = threading.Event()
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_address[1]}"
c = strata.connect(url)

got = [(v, a.tolist()) for v, a in c.stream("d", start=1, ahead=2, timeout=5)]
assert got == [(1, [1.5, 2.5]), (2, [3.5, 4.5])], got
print("ok heartbeats skipped", flush=True)

strata.client.STEP_SILENCE_S = 0.5
seen = []
try:
    for v, _ in c.stream("silent", start=1, ahead=2, timeout=60):
        seen.append(v)
    raise AssertionError("a silent stream ended quietly")
except strata.StrataError as e:
    assert e.code == "unavailable", e
    assert "sent nothing on the step stream for 0.5 s" in str(e), e
assert seen == [1], seen
print("ok silence", flush=True)
server.done.set()
server.shutdown()
