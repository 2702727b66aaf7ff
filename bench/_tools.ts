/**
 * The programs some benchmarks run beside Strata (wrk, etcd), started with
 * a clear error when one is not installed.
 *
 * @module
 */

/**
 * Spawns `command` like `new Deno.Command(command, options).spawn()`; a
 * program that is not installed fails with what to install (`pkg`, a
 * Debian package) rather than the bare `NotFound` of a spawn.
 *
 * @example
 * ```ts ignore
 * import { spawnTool } from "./_tools.ts";
 * const child = spawnTool("wrk", "wrk", { args: ["--version"], stdout: "null", stderr: "null" });
 * await child.status;
 * ```
 */
export function spawnTool(
  command: string,
  pkg: string,
  options: Deno.CommandOptions,
): Deno.ChildProcess {
  try {
    return new Deno.Command(command, options).spawn();
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    throw new Error(
      `This benchmark runs '${command}', which is not installed: install it (Debian: apt-get install ${pkg}) and run it again`,
      { cause: e },
    );
  }
}
