/**
 * Starts sandbox processes: `deno run` with no permissions at all, a V8
 * heap limit, and a memory limit the operating system enforces on the whole
 * process, at a lower CPU priority than the service's (`nice`, so that
 * functions take the cores the node's other work leaves). A small `sh`
 * script applies the limit and the priority before it execs `deno`:
 * a memory cgroup of the process's own where the service may create one
 * (v1 `memory.limit_in_bytes`, v2 `memory.max`), else `RLIMIT_DATA`
 * (`ulimit -d`). Deno refuses its programs access to `/proc` and `/sys`
 * without `--allow-all`, which the service never has, so the script also
 * finds the service's cgroup and reads a dead process's OOM count.
 *
 * @module
 */

/**
 * How a sandbox process's memory is limited: by a memory cgroup, by
 * `RLIMIT_DATA`, or, when the service may not run `sh`, by V8's heap limit
 * alone (array buffers and other memory outside the heap are then not
 * limited: a warning says so at start).
 */
export type IsolationMode = "cgroup-v1" | "cgroup-v2" | "rlimit" | "heap-only";

/** What a launcher found about the machine. */
export interface Isolation {
  /** The memory limit in force. */
  readonly mode: IsolationMode;
  /** The cgroup directory holding this service's sandboxes, for cgroup modes. */
  readonly dir?: string;
}

/** Memory a sandbox process needs beyond its function's limit under a cgroup: Deno itself. */
export const CGROUP_BASE_BYTES = 64 * 2 ** 20;
/**
 * `RLIMIT_DATA` a bare `deno` process needs before any function allocates:
 * V8 and Deno reserve writable address ranges at start (measured: 560 MB
 * starts on Deno 2.9.6 x86_64, 520 MB does not).
 */
export const RLIMIT_BASE_BYTES = 640 * 2 ** 20;

/** What the service says when sandboxes get V8's heap limit only. */
export const HEAP_ONLY_WARNING =
  "function sandboxes get V8's heap limit only: memory outside the heap is not " +
  "limited by the OS, and they run at the service's CPU priority. Allow the service to run sh " +
  "(--allow-run=deno,sh, as deno.json's tasks do) to limit each sandbox process with a memory " +
  "cgroup or RLIMIT_DATA and lower its priority (functions.nice)";

/**
 * The niceness sandbox processes run at unless configured (`functions.nice`),
 * the least: where functions share a node's cores with the runtime and the
 * simulation's processes, the kernel's scheduler gives a sandbox about 1.5%
 * of a core's time against each busy process of niceness 0, and idle cores
 * in full.
 */
export const DEFAULT_NICE = 19;

/** The script that finds where sandboxes' cgroups go (`$1`: this service's folder name). */
const PROBE = `
name=$1
for d in /sys/fs/cgroup/memory"$(sed -n 's/^[0-9]*:[^:]*memory[^:]*://p' /proc/self/cgroup 2>/dev/null | head -n 1)" /sys/fs/cgroup/memory; do
  if [ -d "$d" ] && [ -f "$d/memory.limit_in_bytes" ]; then
    for old in "$d"/strata-*; do [ -d "$old" ] && { rmdir "$old"/sb-* "$old" 2>/dev/null; }; done
    if mkdir -p "$d/$name" 2>/dev/null && [ -w "$d/$name/memory.limit_in_bytes" ]; then echo "cgroup-v1 $d/$name"; exit 0; fi
  fi
done
v2=$(sed -n 's/^0:://p' /proc/self/cgroup 2>/dev/null | head -n 1)
d=/sys/fs/cgroup$v2
if [ -n "$v2" ] && [ -f /sys/fs/cgroup/cgroup.controllers ] && [ -d "$d" ]; then
  for old in "$d"/strata-*; do [ -d "$old" ] && { rmdir "$old"/sb-* "$old" 2>/dev/null; }; done
  if mkdir -p "$d/$name" 2>/dev/null && echo +memory > "$d/$name/cgroup.subtree_control" 2>/dev/null; then
    mkdir -p "$d/$name/sb-probe" 2>/dev/null
    if [ -w "$d/$name/sb-probe/memory.max" ]; then rmdir "$d/$name/sb-probe"; echo "cgroup-v2 $d/$name"; exit 0; fi
    rmdir "$d/$name/sb-probe" 2>/dev/null
  fi
  rmdir "$d/$name" 2>/dev/null
fi
echo rlimit
`;

/**
 * The script that limits itself and execs the sandbox: mode, cgroup
 * folder, limit in bytes, niceness, then folders of dead sandboxes to
 * remove, then `--`, then the command.
 */
const START = `
mode=$1 dir=$2 bytes=$3 nice=$4
shift 4
while [ "$1" != "--" ]; do rmdir "$1" 2>/dev/null; shift; done
shift
case $mode in
  cgroup-v1)
    mkdir -p "$dir" || exit 97
    echo 0 > "$dir/memory.swappiness" 2>/dev/null
    echo "$bytes" > "$dir/memory.limit_in_bytes" || exit 97
    echo $$ > "$dir/cgroup.procs" || exit 97 ;;
  cgroup-v2)
    mkdir -p "$dir" || exit 97
    echo "$bytes" > "$dir/memory.max" || exit 97
    echo 0 > "$dir/memory.swap.max" 2>/dev/null
    echo $$ > "$dir/cgroup.procs" || exit 97 ;;
  rlimit)
    ulimit -d $(( bytes / 1024 )) || exit 97 ;;
esac
[ "$nice" = 0 ] || exec nice -n "$nice" "$@"
exec "$@"
`;

/**
 * The script that tells whether a dead sandbox's cgroup killed it for
 * memory, and removes it: the OOM kill count, and how often usage hit the
 * limit (v1 `memory.failcnt`, v2 `max` in `memory.events`), since the kill
 * count alone was seen at 0 for a process the kernel killed at its limit.
 */
const REAP = `
for f in "$1/memory.oom_control" "$1/memory.events"; do [ -f "$f" ] && grep -E '^(oom_kill|max) ' "$f"; done
[ -f "$1/memory.failcnt" ] && echo "failcnt $(cat "$1/memory.failcnt")"
rmdir "$1" 2>/dev/null
exit 0
`;

/** The script that prints `<pid> <its /proc stat line>` for each pid given. */
const CPU =
  `for p in "$@"; do read -r line < "/proc/$p/stat" 2>/dev/null && echo "$p $line"; done; exit 0`;

const SANDBOX_PROGRAM = new URL("./_sandbox_process.ts", import.meta.url).href;

/** How long the machine probe and a reap may take before they are given up, in ms. */
const SCRIPT_DEADLINE_MS = 5_000;

/** Options of a launcher. */
export interface LauncherOptions {
  /** Force a mode (default: the best the machine allows, probed once). */
  readonly mode?: IsolationMode;
  /** The `deno` to run (default `deno` on the PATH). */
  readonly deno?: string;
  /**
   * The niceness sandbox processes run at, 0 (the service's own priority)
   * to 19 (the least); default `DEFAULT_NICE`. Set with `nice(1)` by the
   * start script, so not in `heap-only` mode.
   */
  readonly nice?: number;
}

/** A sandbox process as the launcher started it. */
export interface Launched {
  /** The process. */
  readonly child: Deno.ChildProcess;
  /** Its cgroup folder, for cgroup modes. */
  readonly cgroup?: string;
  /** The memory limit the OS enforces on it, in bytes. */
  readonly limitBytes: number;
  /** The mode that limits it. */
  readonly mode: IsolationMode;
  /** The niceness it runs at (0 in `heap-only` mode, where none is set). */
  readonly nice: number;
}

/**
 * Starts sandbox processes for a pool.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Launcher } from "./launcher.ts";
 * const launcher = new Launcher();
 * try {
 *   const isolation = await launcher.isolation();
 *   assert.ok(["cgroup-v1", "cgroup-v2", "rlimit", "heap-only"].includes(isolation.mode));
 * } finally {
 *   await launcher.close();
 * }
 * ```
 */
export class Launcher {
  readonly #deno: string;
  readonly #forced: IsolationMode | undefined;
  readonly #nice: number;
  #isolation: Promise<Isolation> | undefined;
  #next = 1;
  /** cgroup folders of dead sandboxes, removed by the next start. */
  #dead: string[] = [];

  /** Creates a launcher; the machine is probed at the first start. */
  constructor(options: LauncherOptions = {}) {
    this.#deno = options.deno ?? "deno";
    this.#forced = options.mode;
    const nice = options.nice ?? DEFAULT_NICE;
    if (!Number.isInteger(nice) || nice < 0 || nice > 19) {
      throw new RangeError(`Invalid sandbox niceness ${nice}: expected an integer from 0 to 19`);
    }
    this.#nice = nice;
  }

  /** The isolation this machine gives sandboxes (probed once). */
  isolation(): Promise<Isolation> {
    this.#isolation ??= this.#probe();
    return this.#isolation;
  }

  /**
   * Starts a sandbox process with a heap of `heapMb` MiB and an OS memory
   * limit for `memoryBytes` (plus what Deno itself needs: see
   * `CGROUP_BASE_BYTES` and `RLIMIT_BASE_BYTES`), at the launcher's
   * niceness (`LauncherOptions.nice`).
   */
  async launch(heapMb: number, memoryBytes: number): Promise<Launched> {
    const { mode, dir } = await this.isolation();
    const cgroup = dir === undefined ? undefined : `${dir}/sb-${this.#next++}`;
    const limitBytes = mode === "heap-only"
      ? heapMb * 2 ** 20
      : memoryBytes + (mode === "rlimit" ? RLIMIT_BASE_BYTES : CGROUP_BASE_BYTES);
    const deno = [
      this.#deno,
      "run",
      "--no-config",
      "--no-prompt",
      "--no-lock",
      `--v8-flags=--max-old-space-size=${heapMb}`,
      SANDBOX_PROGRAM,
    ];
    const dead = mode === "heap-only" ? [] : this.#dead.splice(0, 64);
    const [command, ...args] = mode === "heap-only" ? deno : [
      "sh",
      "-c",
      START,
      "strata-sandbox",
      mode,
      cgroup ?? "",
      String(limitBytes),
      String(this.#nice),
      ...dead,
      "--",
      ...deno,
    ];
    const child = new Deno.Command(command!, {
      args,
      // Nothing of the service's directory: a function that asks where it
      // runs learns only "/".
      cwd: "/",
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const nice = mode === "heap-only" ? 0 : this.#nice;
    return cgroup === undefined
      ? { child, limitBytes, mode, nice }
      : { child, cgroup, limitBytes, mode, nice };
  }

  /**
   * After a sandbox under a cgroup died: whether its cgroup's OOM killer
   * killed it, or its usage reached the limit (the caller also checks the
   * process died of SIGKILL). Removes the cgroup folder.
   */
  async reap(cgroup: string): Promise<boolean> {
    const out = await run(["-c", REAP, "strata-reap", cgroup]);
    if (out === undefined) {
      this.forget(cgroup);
      return false;
    }
    return /^(oom_kill|max|failcnt) [1-9]/m.test(out);
  }

  /**
   * CPU time used so far by each of `pids` (user plus system, in clock
   * ticks), read from `/proc/<pid>/stat` by `sh`, since Deno refuses its
   * programs `/proc`. A pid that is gone is left out. Empty in `heap-only`
   * mode, where the service may not run `sh`.
   */
  async cpuTicks(pids: readonly number[]): Promise<Map<number, number>> {
    const ticks = new Map<number, number>();
    if (pids.length === 0 || (await this.isolation()).mode === "heap-only") return ticks;
    const out = await run(["-c", CPU, "strata-cpu", ...pids.map(String)]);
    for (const line of out?.split("\n") ?? []) {
      // "<pid> <pid> (<comm>) <state> ...": fields after the command name.
      const pid = Number(line.slice(0, line.indexOf(" ")));
      const rest = line.slice(line.lastIndexOf(")") + 2).split(" ");
      const used = Number(rest[11]) + Number(rest[12]);
      if (Number.isSafeInteger(pid) && Number.isFinite(used)) ticks.set(pid, used);
    }
    return ticks;
  }

  /** Notes the cgroup folder of a sandbox that exited, for the next start to remove. */
  forget(cgroup: string): void {
    if (this.#dead.length < 4096) this.#dead.push(cgroup);
  }

  /** Removes the folders of dead sandboxes and this service's cgroup folder. */
  async close(): Promise<void> {
    if (this.#isolation === undefined) return;
    const { dir } = await this.#isolation;
    if (dir === undefined) return;
    await run(["-c", 'rmdir "$1"/sb-* "$1" 2>/dev/null; exit 0', "strata-close", dir]);
  }

  /** Closes it (`await using`); see `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #probe(): Promise<Isolation> {
    const sh = await Deno.permissions.query({ name: "run", command: "sh" });
    if (sh.state !== "granted" || this.#forced === "heap-only") {
      if (this.#forced !== undefined && this.#forced !== "heap-only") {
        throw new Error(`Sandbox isolation '${this.#forced}' needs --allow-run=deno,sh`);
      }
      return { mode: "heap-only" };
    }
    if (this.#forced === "rlimit") return { mode: "rlimit" };
    const out = await run(["-c", PROBE, "strata-probe", `strata-${Deno.pid}`]) ?? "rlimit";
    const [mode, dir] = out.trim().split(" ", 2);
    if ((mode === "cgroup-v1" || mode === "cgroup-v2") && dir !== undefined) {
      if (this.#forced !== undefined && this.#forced !== mode) {
        throw new Error(`Sandbox isolation '${this.#forced}' is not available here: found ${mode}`);
      }
      return { mode, dir };
    }
    if (this.#forced !== undefined) {
      throw new Error(`Sandbox isolation '${this.#forced}' is not available here: found rlimit`);
    }
    return { mode: "rlimit" };
  }
}

/** Runs `sh` with `args` and a deadline; its standard output, or undefined when it failed. */
async function run(args: string[]): Promise<string | undefined> {
  const child = new Deno.Command("sh", { args, stdout: "piped", stderr: "null", stdin: "null" })
    .spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }, SCRIPT_DEADLINE_MS);
  try {
    const out = await child.output();
    return out.success ? new TextDecoder().decode(out.stdout) : undefined;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
