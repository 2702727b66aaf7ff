/**
 * Runs Python scripts of the tests (`tests/python/`) with Debian's
 * `/usr/bin/python3` and the client in `clients/python`, and says loudly
 * when a component is missing so that a test skips instead of failing.
 */

/** The interpreter: Debian's, where python3-numpy and python3-mpi4py install. */
export const PYTHON = "/usr/bin/python3";

/** What a finished script printed. */
export interface Ran {
  /** Exit code. */
  readonly code: number;
  /** Standard output. */
  readonly stdout: string;
  /** Standard error. */
  readonly stderr: string;
}

const cache = new Map<string, Promise<boolean>>();

/**
 * Whether `PYTHON` runs and imports `modules`; prints a WARNING line naming
 * what is missing (and how to install it) when not.
 */
export function pythonHas(modules: readonly string[], what: string): Promise<boolean> {
  const key = modules.join(",");
  let found = cache.get(key);
  if (found === undefined) {
    found = (async () => {
      try {
        const out = await new Deno.Command(PYTHON, {
          args: ["-c", modules.map((m) => `import ${m}`).join("; ")],
          stdout: "null",
          stderr: "null",
        }).output();
        return out.success;
      } catch {
        return false;
      }
    })();
    cache.set(key, found);
  }
  return found.then((ok) => {
    if (!ok) {
      console.warn(
        `WARNING: skipping ${what}: ${PYTHON} with ${
          modules.join(", ")
        } is not available (apt-get install python3-numpy python3-mpi4py openmpi-bin)`,
      );
    }
    return ok;
  });
}

/** The environment of a script: the client on its path, nothing from a user site. */
export function pythonEnv(): Record<string, string> {
  return { PYTHONPATH: `${Deno.cwd()}/clients/python`, PYTHONNOUSERSITE: "1" };
}

/** Runs `tests/python/<script>` with `args` to completion. */
export async function runPython(script: string, args: readonly string[]): Promise<Ran> {
  const out = await new Deno.Command(PYTHON, {
    args: [`tests/python/${script}`, ...args],
    env: pythonEnv(),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The JSON of a script's last output line. */
export function lastJson(out: string): Record<string, unknown> {
  const lines = out.trim().split("\n");
  return JSON.parse(lines[lines.length - 1] ?? "null");
}

/**
 * The dataset the Python stream tests read: `n` particles {x, y, z float64}
 * as an array of structs, fragment `xyz` as float32 columns.
 */
export function particlesDescription(n: number): string {
  return `dataset particles { var p [${n}]struct { x, y, z float64 } }
fragment xyz columnar { var p { x float32, y float32, z float32 } = p }`;
}

/** Version `v` of those particles: particle i has x = v * 1000 + i. */
export function particlesStep(n: number, v: number): Float64Array {
  const p = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) p[i * 3] = v * 1000 + i;
  return p;
}
