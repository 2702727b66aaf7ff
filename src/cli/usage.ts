/**
 * The `strata` commands: their usage lines, what each does and the options
 * each takes, so that `--help`, `strata COMMAND --help` and the message of an
 * unknown option come from one table.
 *
 * @module
 */

import { DEFAULT_TIMEOUT_MS } from "../client/client.ts";

/** One command of `strata`. */
export interface CommandSpec {
  /** The usage line, without the leading `strata `. */
  readonly usage: string;
  /** What it does, one line. */
  readonly about: string;
  /** The options it takes besides `--help` (and `--url`, `--token`, `--timeout` for client commands). */
  readonly options: readonly string[];
  /** Whether it talks to a server (and so takes `--url`, `--token` and `--timeout`). */
  readonly client?: boolean;
}

const SERVER_OPTIONS = ["config", "port", "data-dir", "log-level", "log-format"];

/**
 * Every command, in the order `strata --help` lists them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { COMMANDS } from "./usage.ts";
 * assert.deepEqual(COMMANDS.delete!.options, ["force"]);
 * assert.equal(COMMANDS.serve!.client, undefined);
 * ```
 */
export const COMMANDS: Readonly<Record<string, CommandSpec>> = {
  serve: {
    usage:
      "serve [--config FILE] [--port PORT] [--data-dir DIR] [--log-level LEVEL] [--log-format text|json]",
    about: "start the service: name server and one runtime (default config/strata.yaml, port 7070)",
    options: SERVER_OPTIONS,
  },
  nameserver: {
    usage: "nameserver [--config FILE] [--port PORT] [--data-dir DIR] [--nameserver URL ...]",
    about: "start a name server (registry and control API, no data); --nameserver: the shard list",
    options: [...SERVER_OPTIONS, "nameserver"],
  },
  runtime: {
    usage:
      "runtime --nameserver URL --node NAME [--config FILE] [--port PORT] [--wire-port PORT] [--data-dir DIR]",
    about: "start a runtime (tiers and data) of those name servers (--nameserver repeats)",
    options: [...SERVER_OPTIONS, "nameserver", "node", "wire-port"],
  },
  check: {
    usage: "check FILE [--bind NAME=VALUE ...]",
    about: "check a description and print its layouts",
    options: ["bind"],
  },
  plan: {
    usage: "plan FILE FROM TO [--bind NAME=VALUE ...]",
    about: "print the copy plan from fragment FROM to TO ('dataset': the whole dataset)",
    options: ["bind"],
  },
  ls: { usage: "ls", about: "list the datasets", options: [], client: true },
  describe: {
    usage: "describe DATASET",
    about: "a dataset's description, fragments, settings and versions",
    options: [],
    client: true,
  },
  versions: {
    usage: "versions DATASET",
    about: "a dataset's versions and their states",
    options: [],
    client: true,
  },
  create: {
    usage: "create DATASET FILE [--durable] [--retention K]",
    about: "create a dataset from a description (keeps K committed versions, default 2)",
    options: ["durable", "retention"],
    client: true,
  },
  delete: {
    usage: "delete DATASET [--force]",
    about: "delete a dataset with its versions and bytes (--force: also when a pipeline reads it)",
    options: ["force"],
    client: true,
  },
  publish: {
    usage: "publish DATASET VERSION FRAGMENT FILE|- [--bind NAME=VALUE ...]",
    about: "publish a fragment of a version from a file or standard input",
    options: ["bind"],
    client: true,
  },
  commit: {
    usage: "commit DATASET VERSION",
    about: "commit a version",
    options: [],
    client: true,
  },
  attach: {
    usage:
      "attach DATASET FRAGMENT [--version N|latest] [--wait MS] [--bind NAME=VALUE ...] > FILE",
    about: "write a fragment of a committed version to standard output",
    options: ["version", "wait", "bind"],
    client: true,
  },
  watch: {
    usage: "watch DATASET FRAGMENT [--from N] [--ahead K] [--wait MS] [--bind NAME=VALUE ...]",
    about:
      "print each committed version as the runtime pushes it (version, bytes, dropped) from --from (default the latest), until none comes within --wait (default 60000)",
    options: ["from", "ahead", "wait", "bind"],
    client: true,
  },
  flush: {
    usage: "flush DATASET VERSION [--tier TIER]",
    about: "write a version to the backing tier (or TIER), so it survives restarts",
    options: ["tier"],
    client: true,
  },
  export: {
    usage: "export DATASET VERSION|latest FILE.h5",
    about: "write a committed version to an HDF5 file (one HDF5 dataset per variable)",
    options: [],
    client: true,
  },
  import: {
    usage: "import FILE.h5 [DATASET] [--durable] [--retention K]",
    about: "create a dataset from an HDF5 file's datasets, published as version 1",
    options: ["durable", "retention"],
    client: true,
  },
  nodes: {
    usage: "nodes",
    about: "the nodes, each tier's capacity, usage and copies",
    options: [],
    client: true,
  },
  services: {
    usage: "services [NAME]",
    about: "the hosted services (targets, runtimes, operations), or one in full",
    options: [],
    client: true,
  },
  deploy: {
    usage: "deploy FILE [--name NAME] [--alias ALIAS ...]",
    about: "deploy a function (name: the file's)",
    options: ["name", "alias"],
    client: true,
  },
  functions: {
    usage: "functions [NAME]",
    about: "list the functions, or describe one",
    options: [],
    client: true,
  },
  alias: {
    usage: "alias NAME ALIAS VERSION",
    about: "point an alias at a version (a rollback)",
    options: [],
    client: true,
  },
  invoke: {
    usage:
      "invoke NAME DATASET [--version N|latest] [--bind K=V ...] [--each] [--wait MS] [--args JSON] [--use ALIAS]",
    about: "run a function on stored data (--each: per fragment, merged)",
    options: ["version", "bind", "each", "wait", "args", "use"],
    client: true,
  },
  pipeline: {
    usage:
      "pipeline NAME [--source D --function F [--use A] [--output D2] [--placement in-situ|in-transit|auto] [--args JSON]]",
    about: "create a pipeline, or show it with its runs",
    options: ["source", "function", "use", "output", "placement", "args"],
    client: true,
  },
  help: { usage: "help [COMMAND]", about: "this help, or a command's", options: [] },
};

/**
 * The default server URL of client commands when neither `--url` nor
 * `STRATA_URL` says.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_URL } from "./usage.ts";
 * assert.equal(DEFAULT_URL, "http://127.0.0.1:7070");
 * ```
 */
export const DEFAULT_URL = "http://127.0.0.1:7070";

/**
 * The usage text of one command, or of all of them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { usage } from "./usage.ts";
 * assert.ok(usage("attach").startsWith("Usage: strata attach DATASET FRAGMENT"));
 * assert.ok(usage().includes("strata nodes"));
 * ```
 */
export function usage(command?: string): string {
  const spec = command === undefined ? undefined : COMMANDS[command];
  if (spec !== undefined) {
    return `Usage: strata ${spec.usage}\n\n${capital(spec.about)}.${
      spec.client ? `\n\n${CLIENT_NOTE}` : ""
    }`;
  }
  const lines = Object.values(COMMANDS).map((c) => `  strata ${c.usage}\n      ${c.about}`);
  return `Usage: strata COMMAND [ARGS] [OPTIONS]\n\n${
    lines.join("\n")
  }\n\n${CLIENT_NOTE}\n'strata COMMAND --help' (or -h) shows one command.`;
}

const CLIENT_NOTE =
  `Client commands talk to --url URL, else $STRATA_URL, else ${DEFAULT_URL}; --token T sends a bearer token.
--timeout S fails a call left unanswered for S seconds beyond the wait it asks for (default ${
    DEFAULT_TIMEOUT_MS / 1000
  }).`;

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
