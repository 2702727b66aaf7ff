/**
 * The C library allocator's settings Strata's processes start with.
 *
 * Every buffer Strata allocates for bytes (a request body, a copy kept in a
 * memory tier, a file read whole) is memory the kernel maps in on first
 * touch, one page fault per 4 KiB page. On a virtual machine a fault can
 * cost 10 µs: 2.8 ms per MiB, several times the memory copy that fills the
 * page (`deno task bench malloc`). glibc's allocator, which Deno's buffers
 * come from, takes settings from the `GLIBC_TUNABLES` environment variable
 * when a process starts (it cannot be changed afterwards):
 *
 * - `hugetlb=1`: the allocator's memory is advised for transparent huge
 *   pages (`madvise(MADV_HUGEPAGE)`), one fault per 2 MiB instead of per
 *   4 KiB, where the kernel's `transparent_hugepage/enabled` is `madvise`
 *   or `always`;
 * - `mmap_threshold=32 MiB` (glibc's largest): blocks under it come from
 *   the heap, so a freed buffer's memory is reused by the next one instead
 *   of being unmapped and faulted in again;
 * - `top_pad=64 MiB`: the heap grows 64 MiB at a time, in room for huge
 *   pages;
 * - `trim_threshold=256 MiB`: up to 256 MiB of free memory at the heap's
 *   top stays in the process for reuse before it is returned to the
 *   system.
 *
 * The deno.json tasks and the Slurm script set it; processes Strata's
 * tools spawn get it from `mallocEnv()`. A C library other than glibc (or
 * a glibc older than 2.35, without `hugetlb`) ignores what it does not
 * know.
 *
 * @module
 */

/** The `GLIBC_TUNABLES` value Strata's processes start with. */
export const MALLOC_TUNABLES = [
  "glibc.malloc.hugetlb=1",
  `glibc.malloc.mmap_threshold=${32 << 20}`,
  `glibc.malloc.top_pad=${64 << 20}`,
  `glibc.malloc.trim_threshold=${256 << 20}`,
].join(":");

/**
 * The environment to add to a Strata process spawned with `Deno.Command`
 * (merged into the inherited one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mallocEnv } from "./malloc_tunables.ts";
 * const out = await new Deno.Command("deno", {
 *   args: ["eval", "console.log(Deno.env.get('GLIBC_TUNABLES'))"],
 *   env: mallocEnv(),
 * }).output();
 * assert.match(new TextDecoder().decode(out.stdout), /glibc\.malloc\.hugetlb=1/);
 * ```
 */
export function mallocEnv(): { GLIBC_TUNABLES: string } {
  return { GLIBC_TUNABLES: MALLOC_TUNABLES };
}

/**
 * What to tell an operator whose Strata process started without the
 * allocator's settings; undefined when it has them, or when the process
 * may not read `GLIBC_TUNABLES` (`--allow-env=GLIBC_TUNABLES`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MALLOC_TUNABLES, mallocNotice } from "./malloc_tunables.ts";
 * assert.equal(mallocNotice(MALLOC_TUNABLES), undefined);
 * assert.match(mallocNotice("")!, /GLIBC_TUNABLES/);
 * ```
 */
export function mallocNotice(value: string | undefined = readTunables()): string | undefined {
  if (value === undefined || value.includes("glibc.malloc.hugetlb=1")) return undefined;
  return `Started without the allocator settings: every new buffer costs a page fault per 4 KiB (up to 2.8 ms per MiB on a virtual machine); start it with GLIBC_TUNABLES=${MALLOC_TUNABLES} (the deno.json tasks do)`;
}

/**
 * This process's `GLIBC_TUNABLES` ("" when unset); undefined when it may
 * not read it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTunables } from "./malloc_tunables.ts";
 * const value = readTunables();
 * assert.ok(value === undefined || typeof value === "string");
 * ```
 */
export function readTunables(): string | undefined {
  const state = Deno.permissions.querySync({ name: "env", variable: "GLIBC_TUNABLES" }).state;
  return state === "granted" ? Deno.env.get("GLIBC_TUNABLES") ?? "" : undefined;
}
