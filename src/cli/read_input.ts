/**
 * Reading the files a `strata` command's user names, with errors that say
 * which file and what to do.
 *
 * @module
 */

import { InvalidRequestError, NotFoundError, type StrataError } from "../errors.ts";

/**
 * The bytes of `file`, or a `StrataError` naming it: not found, a directory,
 * or not readable with this process's permissions (and how to allow it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readInput } from "./read_input.ts";
 * await assert.rejects(readInput("tmp/absent.ddl"), /Cannot read 'tmp\/absent.ddl': no such file/);
 * ```
 */
export async function readInput(file: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(file);
  } catch (e) {
    throw inputError(file, e);
  }
}

/**
 * The text of `file` (UTF-8), or a `StrataError` naming it (see `readInput`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readInputText } from "./read_input.ts";
 * assert.match(await readInputText("examples/particles.ddl"), /dataset particles/);
 * ```
 */
export async function readInputText(file: string): Promise<string> {
  return new TextDecoder().decode(await readInput(file));
}

function inputError(file: string, e: unknown): StrataError {
  const at = `Cannot read '${file}'`;
  if (e instanceof Deno.errors.NotFound) {
    return new NotFoundError(`${at}: no such file`, { cause: e });
  }
  if (e instanceof Deno.errors.IsADirectory) {
    return new InvalidRequestError(`${at}: it is a directory`, { cause: e });
  }
  if (e instanceof Deno.errors.NotCapable) {
    return new InvalidRequestError(
      `${at}: this deno process may not read it; run strata with --allow-read=${file} (the 'deno task strata' task allows any file)`,
      { cause: e },
    );
  }
  if (e instanceof Deno.errors.PermissionDenied) {
    return new InvalidRequestError(`${at}: permission denied by the system`, {
      cause: e,
    });
  }
  return new InvalidRequestError(`${at}: ${(e as Error).message}`, { cause: e });
}
