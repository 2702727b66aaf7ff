"""Calls to a server that takes connections and never answers (a process stopped without
closing them, played by a socket of this script), or answers a head and stops mid-body: each
fails as ``unavailable`` once the client's ``timeout`` passes, a request that asks the server to
wait getting its wait on top, rather than hanging. Prints ``ok <what>`` lines."""

import re
import socket
import threading

import strata

held = []
listeners = []


def peer(answer):
    """The URL of a loopback listener whose connections ``answer(conn)`` serves (or not)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listeners.append(listener)

    def take():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)
            answer(conn)

    threading.Thread(target=take, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}"


def half_answer(conn):
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                 b"content-length: 100\r\n\r\n{\"datasets\": [")


def unavailable(call, within):
    try:
        call()
    except strata.StrataError as e:
        assert e.code == "unavailable", e
        assert re.search(f"did not answer within {within} s", str(e)), e
        return
    raise AssertionError("the call returned from a server that never answers")


c = strata.connect(peer(lambda conn: None), timeout=0.3)
unavailable(lambda: c.datasets(), r"0\.3")
print("ok control", flush=True)
# The wait left when the request goes (a little under 0.2 s) on top of the timeout.
unavailable(lambda: c.attach("d", wait=0.2), r"0\.(49\d*|5)")
print("ok attach waits", flush=True)
# A head, then a body that stops coming.
half = strata.connect(peer(half_answer), timeout=0.3)
unavailable(lambda: half.datasets(), r"0\.3")
print("ok body stalls", flush=True)
for s in listeners + held:
    s.close()
