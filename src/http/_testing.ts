/**
 * Test helpers of the HTTP callers: a peer that takes connections and
 * reads requests but never answers (a process stopped without closing its
 * connections), and a bound on how long a test waits for a call to fail.
 *
 * @module
 */

/**
 * A loopback listener that reads every request and answers none; `close()`
 * stops it and closes its connections.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { silentServer } from "./_testing.ts";
 * await using silent = silentServer();
 * assert.match(silent.url, /^http:\/\/127\.0\.0\.1:\d+$/);
 * ```
 */
export function silentServer(): { url: string; close(): Promise<void> } & AsyncDisposable {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of listener) {
      conns.push(c);
      c.readable.pipeTo(new WritableStream()).catch(() => {});
    }
  })();
  const close = () => stopListening(listener, conns, accepting);
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * `promise`, or a rejection once `ms` have passed: a test of a deadline
 * fails rather than waits for good when the deadline does not fire.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { within } from "./_testing.ts";
 * assert.equal(await within(Promise.resolve(1), 100), 1);
 * await assert.rejects(within(new Promise(() => {}), 10), /Not settled within 10 ms/);
 * ```
 */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Not settled within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Closes a test server's listener and its connections (those closed
 * already are passed over), then waits for its accepting loop to end.
 *
 * @example
 * ```ts
 * import { stopListening } from "./_testing.ts";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const accepting = (async () => { for await (const c of listener) c.close(); })();
 * await stopListening(listener, [], accepting);
 * ```
 */
export async function stopListening(
  listener: Deno.Listener,
  conns: readonly Deno.Conn[],
  accepting: Promise<unknown>,
): Promise<void> {
  listener.close();
  for (const c of conns) {
    try {
      c.close();
    } catch {
      // Closed already (by the end of its stream).
    }
  }
  await accepting.catch(() => {});
}
