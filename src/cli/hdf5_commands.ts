/**
 * `strata export` and `strata import`: a committed version to an HDF5 file,
 * and a dataset from one, through the client (the HDF5 file is built and read
 * in this process; the server's `/export` and `/import` routes do the same).
 *
 * @module
 */

import type { Client } from "../client/mod.ts";
import { InvalidRequestError } from "../errors.ts";
import { fromHdf5, toHdf5 } from "../hdf5/mod.ts";
import { readInput } from "./read_input.ts";

/** Options of the HDF5 commands. */
export interface Hdf5Flags {
  /** `--durable` (import). */
  readonly durable?: boolean | undefined;
  /** `--retention` (import). */
  readonly retention?: number | undefined;
}

/**
 * Runs `export DATASET VERSION FILE` or `import FILE [DATASET]`; returns the
 * exit code, or undefined for another command.
 *
 * @example
 * ```ts ignore
 * import { connect } from "../client/mod.ts";
 * import { runHdf5Command } from "./hdf5_commands.ts";
 * await runHdf5Command(connect("http://127.0.0.1:7070"), "export", ["particles", "latest", "p.h5"]);
 * ```
 */
export async function runHdf5Command(
  strata: Client,
  command: string,
  args: readonly string[],
  flags: Hdf5Flags = {},
): Promise<number | undefined> {
  if (command === "export") {
    const [dataset, version, file] = args;
    if (dataset === undefined || version === undefined || file === undefined) {
      throw new InvalidRequestError(
        "Missing arguments: strata export DATASET VERSION FILE.h5",
      );
    }
    const wanted = version === "latest" ? "latest" : Number(version);
    if (wanted !== "latest" && (!/^[0-9]+$/.test(version) || !Number.isSafeInteger(wanted))) {
      throw new InvalidRequestError(
        `Invalid VERSION '${version}': expected an integer or latest`,
      );
    }
    const described = await strata.describeDataset(dataset);
    const attached = await strata.attach(dataset, "dataset", { version: wanted });
    const lineage = await strata.functions.lineage(dataset, attached.version).catch(() =>
      undefined
    );
    const bytes = await toHdf5({
      dataset,
      version: attached.version,
      description: String(described.description ?? ""),
      layout: attached.layout,
      bytes: attached.bytes,
      ...(lineage === undefined ? {} : { lineage }),
    });
    await writeOutput(file, bytes);
    console.log(
      `exported version ${attached.version} of ${dataset} to ${file}: ${bytes.byteLength} bytes`,
    );
    return 0;
  }
  if (command === "import") {
    const [file, name = defaultName(args[0] ?? "")] = args;
    if (file === undefined) {
      throw new InvalidRequestError(
        "Missing arguments: strata import FILE.h5 [DATASET]",
      );
    }
    const imported = await fromHdf5(await readInput(file), { name });
    await strata.createDataset(name, imported.description, {
      durable: flags.durable === true,
      ...(flags.retention === undefined ? {} : { retention: flags.retention }),
    });
    try {
      const r = await strata.publish(name, 1, "dataset", imported.bytes);
      console.log(
        JSON.stringify({
          dataset: name,
          version: 1,
          committed: r.committed,
          variables: imported.variables,
        }),
      );
    } catch (e) {
      await strata.deleteDataset(name, { force: true }).catch(() => {});
      throw e;
    }
    return 0;
  }
  return undefined;
}

/** The dataset name an imported file gets by default: its base name without extension. */
function defaultName(file: string): string {
  const base = file.split("/").pop()!.replace(/\.(h5|hdf5|he5|nc)$/i, "");
  return base.replace(/[^A-Za-z0-9_.-]/g, "_").replace(/^[^A-Za-z]/, "d$&");
}

async function writeOutput(file: string, bytes: Uint8Array): Promise<void> {
  try {
    await Deno.writeFile(file, bytes);
  } catch (e) {
    const why = e instanceof Deno.errors.NotCapable
      ? `this deno process may not write it; run strata with --allow-write=${file}`
      : (e as Error).message;
    throw new InvalidRequestError(`Cannot write '${file}': ${why}`, { cause: e });
  }
}
