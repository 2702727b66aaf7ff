/**
 * The `strata` commands of functions and pipelines, through the client.
 *
 * ```sh
 * strata deploy functions/histogram.ts [--name histogram] [--alias prod]
 * strata functions [NAME]
 * strata alias NAME ALIAS VERSION
 * strata invoke NAME DATASET [--version N] [--bind K=V] [--each] [--args JSON] [--use ALIAS]
 * strata pipeline NAME [--source D --function F [--use A] [--output D2] [--placement P] [--args JSON]]
 * ```
 *
 * @module
 */

import { connect } from "../client/mod.ts";
import { InvalidRequestError } from "../errors.ts";
import { readInputText } from "./read_input.ts";

/** Flags of the function commands. */
export interface FunctionFlags {
  /** Server URL. */
  readonly url: string;
  /** Bearer token. */
  readonly token?: string | undefined;
  /** `--timeout` in ms: how long each call may go unanswered beyond its wait. */
  readonly timeoutMs?: number | undefined;
  /** Region bindings. */
  readonly bindings: Record<string, number>;
  /** `--version`. */
  readonly version?: string | undefined;
  /** `--name`. */
  readonly name?: string | undefined;
  /** `--alias` (repeatable). */
  readonly alias?: readonly string[] | undefined;
  /** `--use`. */
  readonly use?: string | undefined;
  /** `--each`. */
  readonly each?: boolean | undefined;
  /** `--wait` in milliseconds (invoke). */
  readonly wait?: string | undefined;
  /** `--args` (JSON). */
  readonly args?: string | undefined;
  /** `--source`. */
  readonly source?: string | undefined;
  /** `--function`. */
  readonly function?: string | undefined;
  /** `--output`. */
  readonly output?: string | undefined;
  /** `--placement`. */
  readonly placement?: string | undefined;
}

/**
 * Runs one function command; returns the exit code, or undefined when
 * `command` is not one.
 *
 * @example
 * ```ts ignore
 * import { runFunctionCommand } from "./function_commands.ts";
 * await runFunctionCommand("functions", [], { url: "http://127.0.0.1:7070", bindings: {} });
 * ```
 */
export async function runFunctionCommand(
  command: string,
  args: string[],
  flags: FunctionFlags,
): Promise<number | undefined> {
  const strata = connect(flags.url, {
    ...(flags.token === undefined ? {} : { token: flags.token }),
    ...(flags.timeoutMs === undefined ? {} : { timeoutMs: flags.timeoutMs }),
  });
  const fns = strata.functions;
  const need = (n: number, usage: string) => {
    if (args.length < n) {
      throw new InvalidRequestError(`Missing arguments: strata ${usage}`);
    }
  };
  switch (command) {
    case "deploy": {
      need(1, "deploy FILE [--name NAME] [--alias ALIAS]");
      const file = args[0]!;
      const name = flags.name ?? file.replace(/^.*\//, "").replace(/\.[^.]*$/, "");
      const v = await fns.deploy(name, await readInputText(file), {
        aliases: flags.alias ?? [],
      });
      console.log(
        `${v.created ? "deployed" : "unchanged"} ${v.name} version ${v.version} ${v.digest}`,
      );
      return 0;
    }
    case "functions": {
      if (args[0] !== undefined) {
        console.log(JSON.stringify(await fns.describe(args[0]), null, 2));
        return 0;
      }
      for (const f of await fns.list()) {
        const aliases = Object.entries(f.aliases as Record<string, number>)
          .map(([a, v]) => `${a}=${v}`).join(" ");
        console.log(`${f.name}\tlatest ${f.latest}\t${aliases}`);
      }
      return 0;
    }
    case "alias": {
      need(3, "alias NAME ALIAS VERSION");
      const version = Number(args[2]);
      if (!Number.isSafeInteger(version) || version < 1) {
        throw new InvalidRequestError(
          `Invalid VERSION '${args[2]}': expected an integer >= 1`,
        );
      }
      await fns.setAlias(args[0]!, args[1]!, version);
      console.log(`${args[0]} ${args[1]} -> version ${version}`);
      return 0;
    }
    case "invoke": {
      need(
        2,
        "invoke NAME DATASET [--version N] [--bind K=V] [--each] [--args JSON] [--use ALIAS]",
      );
      const version = flags.version === undefined || flags.version === "latest"
        ? "latest"
        : Number(flags.version);
      const r = await fns.invoke(args[0]!, args[1]!, {
        version,
        params: flags.bindings,
        each: flags.each === true,
        ...(flags.wait === undefined ? {} : { wait: waitOf(flags.wait) }),
        ...(flags.use === undefined
          ? {}
          : { use: /^[0-9]+$/.test(flags.use) ? Number(flags.use) : flags.use }),
        ...(flags.args === undefined ? {} : { args: json(flags.args, "--args") }),
      });
      if (r.bytes !== undefined) {
        const out = Deno.stdout.writable.getWriter();
        await out.write(r.bytes);
        out.releaseLock();
        console.error(
          `${r.function.name} version ${r.function.version}: ${r.bytes.byteLength} bytes`,
        );
      } else console.log(JSON.stringify(r.value));
      return 0;
    }
    case "pipeline": {
      need(1, "pipeline NAME [--source D --function F ...]");
      if (flags.source !== undefined || flags.function !== undefined) {
        const spec: Record<string, unknown> = { source: flags.source, function: flags.function };
        if (flags.use !== undefined) {
          spec.use = /^[0-9]+$/.test(flags.use) ? Number(flags.use) : flags.use;
        }
        if (flags.output !== undefined) spec.output = flags.output;
        if (flags.placement !== undefined) spec.placement = flags.placement;
        if (flags.args !== undefined) spec.args = json(flags.args, "--args");
        console.log(JSON.stringify(await fns.putPipeline(args[0]!, spec)));
        return 0;
      }
      console.log(JSON.stringify(await fns.pipeline(args[0]!), null, 2));
      return 0;
    }
    default:
      return undefined;
  }
}

function json(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InvalidRequestError(`Invalid ${what}: ${(e as Error).message}`);
  }
}

function waitOf(text: string): number {
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n)) {
    throw new InvalidRequestError(`Invalid --wait '${text}': expected milliseconds`);
  }
  return n;
}
