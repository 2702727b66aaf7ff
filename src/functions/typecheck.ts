/**
 * Type-checks a function module before it is accepted: `deno check` in a
 * subprocess, on the source written under the service's data directory next
 * to an entry module that assigns the module to `FunctionModule`, so the
 * exports' types are checked too. The subprocess only reads; it neither runs
 * the module nor fetches anything (`--no-remote --no-npm`).
 *
 * @module
 */

import { InvalidFunctionError } from "../errors.ts";
import { TYPES_SPECIFIER } from "./source.ts";

/** Options of a type checker. */
export interface TypeCheckerOptions {
  /** Directory where sources are written for the check (under the data directory). */
  readonly dir: string;
  /** The `deno` executable (default `deno`, found on PATH). */
  readonly deno?: string;
  /** A check running longer is killed and refused, in ms (default 60 000). */
  readonly timeoutMs?: number;
}

const ENTRY = `import * as fn from "./function.ts";
import type { FunctionModule } from "${TYPES_SPECIFIER}";
export const checked: FunctionModule = fn;
`;

/**
 * Runs `deno check` on function sources, one at a time, remembering the
 * digests that passed.
 *
 * @example
 * ```ts ignore
 * import { TypeChecker } from "./typecheck.ts";
 * const checker = new TypeChecker({ dir: "data/functions/check" });
 * await checker.check("histogram", source, digest); // throws InvalidFunctionError when it does not check
 * ```
 */
export class TypeChecker {
  readonly #dir: string;
  readonly #deno: string;
  readonly #timeoutMs: number;
  readonly #passed = new Set<string>();
  #chain: Promise<unknown> = Promise.resolve();

  /** Creates a checker writing under `options.dir`. */
  constructor(options: TypeCheckerOptions) {
    this.#dir = options.dir;
    this.#deno = options.deno ?? "deno";
    this.#timeoutMs = options.timeoutMs ?? 60_000;
  }

  /** Throws `InvalidFunctionError` (stage `type-check`) with the diagnostics when it fails. */
  check(name: string, source: string, digest: string): Promise<void> {
    if (this.#passed.has(digest)) return Promise.resolve();
    const run = this.#chain.then(() => this.#check(name, source, digest));
    this.#chain = run.catch(() => {});
    return run;
  }

  async #check(name: string, source: string, digest: string): Promise<void> {
    if (this.#passed.has(digest)) return;
    await Deno.mkdir(this.#dir, { recursive: true });
    const dir = await Deno.makeTempDir({ dir: this.#dir, prefix: "check_" });
    try {
      const api = new URL("./api.ts", import.meta.url).href;
      await Deno.writeTextFile(`${dir}/function.ts`, source);
      await Deno.writeTextFile(`${dir}/check.ts`, ENTRY);
      await Deno.writeTextFile(
        `${dir}/deno.json`,
        JSON.stringify({
          imports: { [TYPES_SPECIFIER]: api },
          compilerOptions: { strict: true, noImplicitOverride: true },
        }),
      );
      const out = await new Deno.Command(this.#deno, {
        args: [
          "check",
          "--quiet",
          "--no-remote",
          "--no-npm",
          "--no-lock",
          "--config",
          "deno.json",
          "check.ts",
        ],
        cwd: dir,
        env: { NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(this.#timeoutMs),
      }).output();
      if (!out.success) {
        const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
        throw new InvalidFunctionError(name, "type-check", diagnostics(text, dir));
      }
      this.#passed.add(digest);
    } catch (e) {
      if (e instanceof InvalidFunctionError) throw e;
      if (e instanceof DOMException && e.name === "TimeoutError") {
        throw new InvalidFunctionError(
          name,
          "type-check",
          `deno check took longer than ${this.#timeoutMs} ms`,
        );
      }
      throw new InvalidFunctionError(
        name,
        "type-check",
        `cannot run deno check: ${(e as Error).message}`,
        { cause: e },
      );
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
}

/** The diagnostics of `deno check`, with the scratch directory's paths shortened. */
function diagnostics(text: string, dir: string): string {
  const abs = new URL(`file://${dir.startsWith("/") ? "" : Deno.cwd() + "/"}${dir}/`).href;
  const lines = text
    // deno-lint-ignore no-control-regex
    .replace(/\x1b\[[0-9;]*m/g, "")
    .replaceAll(abs, "")
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) =>
      l !== "" && !/^(error: Type checking failed|Stack backtrace|\s+\d+: <unknown>)/.test(l)
    );
  return lines.slice(0, 40).join("\n");
}
