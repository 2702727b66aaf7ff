"""Calls to a server that takes connections and never answers (a process stopped without
closing them, played by a socket of this script): each fails as ``unavailable`` once the
client's ``timeout`` passes, a request that asks the server to wait getting its wait on top,
rather than hanging. Prints ``ok <what>`` lines."""

import re
import socket
import threading

import strata

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(16)
held = []


def take():
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        held.append(conn)


threading.Thread(target=take, daemon=True).start()
url = f"http://127.0.0.1:{listener.getsockname()[1]}"


def unavailable(call, within):
    try:
        call()
    except strata.StrataError as e:
        assert e.code == "unavailable", e
        assert re.search(f"did not answer within {within} s", str(e)), e
        return
    raise AssertionError("the call returned from a server that never answers")


c = strata.connect(url, timeout=0.3)
unavailable(lambda: c.datasets(), r"0\.3")
print("ok control", flush=True)
# The wait left when the request goes (a little under 0.2 s) on top of the timeout.
unavailable(lambda: c.attach("d", wait=0.2), r"0\.(49\d*|5)")
print("ok attach waits", flush=True)

# A head, then a body that stops coming.
stalling = socket.socket()
stalling.bind(("127.0.0.1", 0))
stalling.listen(16)


def answer_half():
    while True:
        try:
            conn, _ = stalling.accept()
        except OSError:
            return
        held.append(conn)
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                     b"content-length: 100\r\n\r\n{\"datasets\": [")


threading.Thread(target=answer_half, daemon=True).start()
half = strata.connect(f"http://127.0.0.1:{stalling.getsockname()[1]}", timeout=0.3)
unavailable(lambda: half.datasets(), r"0\.3")
print("ok body stalls", flush=True)
listener.close()
stalling.close()
for conn in held:
    conn.close()
