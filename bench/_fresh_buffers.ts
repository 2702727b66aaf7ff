/**
 * The child of the allocator benchmark (bench/malloc_bench.ts): allocates
 * `count` buffers of `mib` MiB and fills each once (fresh memory, as a
 * request body or a copy for a memory tier is), keeping the last
 * `live` of them alive as a server keeps its recent copies, then fills one
 * buffer again `count` times (memory already mapped: what the same bytes
 * cost without faults). Prints `{freshMsPerMiB, reusedMsPerMiB}` as JSON.
 *
 * `deno run bench/_fresh_buffers.ts <mib> <count> <live>`
 *
 * @module
 */

/** What the child measured. */
export interface FreshBuffers {
  /** Milliseconds per MiB to allocate and fill new buffers. */
  readonly freshMsPerMiB: number;
  /** Milliseconds per MiB to fill a buffer already touched. */
  readonly reusedMsPerMiB: number;
}

if (import.meta.main) {
  const [mib, count, live] = Deno.args.map(Number) as [number, number, number];
  const bytes = mib << 20;
  const kept: Uint8Array[] = [];
  let t = performance.now();
  for (let i = 0; i < count; i++) {
    const b = new Uint8Array(bytes);
    b.fill(i + 1);
    kept.push(b);
    if (kept.length > live) kept.shift();
  }
  const fresh = performance.now() - t;
  const again = kept[kept.length - 1]!;
  t = performance.now();
  for (let i = 0; i < count; i++) again.fill(i + 2);
  const reused = performance.now() - t;
  const out: FreshBuffers = {
    freshMsPerMiB: fresh / (count * mib),
    reusedMsPerMiB: reused / (count * mib),
  };
  console.log(JSON.stringify(out));
}
