/**
 * The hardware limit of the transfer benchmark: a process that answers each
 * 8-byte request (a little-endian length) on a loopback TCP connection with
 * that many bytes from memory, as fast as the socket takes them.
 *
 * Run: `deno run --allow-net=127.0.0.1 bench/_tcp_sender.ts MAX_BYTES` (prints its port).
 *
 * @module
 */

const max = Number(Deno.args[0] ?? 1 << 28);
const data = new Uint8Array(max).map((_, i) => i & 0xff);
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(listener.addr.port);
for await (const conn of listener) {
  (async () => {
    conn.setNoDelay(true);
    const req = new Uint8Array(8);
    for (;;) {
      let got = 0;
      while (got < 8) {
        const n = await conn.read(req.subarray(got));
        if (n === null) return conn.close();
        got += n;
      }
      const want = Number(new DataView(req.buffer).getBigUint64(0, true));
      let off = 0;
      while (off < want) off += await conn.write(data.subarray(off, want));
    }
  })();
}
