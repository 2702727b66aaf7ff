/**
 * The `strata` commands that talk to a running server through the client.
 *
 * @module
 */

import { connect } from "../client/mod.ts";
import { InvalidRequestError } from "../errors.ts";
import { readInput, readInputText } from "./read_input.ts";
import { runHdf5Command } from "./hdf5_commands.ts";
import { progress, PROGRESS_MIN_BYTES, sayWaiting } from "./progress.ts";

/** Options shared by the client commands. */
export interface ClientFlags {
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
  /** `--wait` in milliseconds. */
  readonly wait?: string | undefined;
  /** `--from` (watch: the first version). */
  readonly from?: string | undefined;
  /** `--ahead` (watch: versions the runtime fetches ahead). */
  readonly ahead?: string | undefined;
  /** `--durable`. */
  readonly durable?: boolean | undefined;
  /** `--retention`. */
  readonly retention?: string | undefined;
  /** `--tier`. */
  readonly tier?: string | undefined;
  /** `--force` (delete). */
  readonly force?: boolean | undefined;
}

/**
 * Runs one client command; returns the exit code, or undefined when `command`
 * is not a client command.
 *
 * @example
 * ```ts ignore
 * import { runClientCommand } from "./client_commands.ts";
 * await runClientCommand("ls", [], { url: "http://127.0.0.1:7070", bindings: {} });
 * ```
 */
export async function runClientCommand(
  command: string,
  args: string[],
  flags: ClientFlags,
): Promise<number | undefined> {
  const strata = connect(flags.url, {
    ...(flags.token === undefined ? {} : { token: flags.token }),
    ...(flags.timeoutMs === undefined ? {} : { timeoutMs: flags.timeoutMs }),
  });
  const need = (n: number, usage: string) => {
    if (args.length < n) {
      throw new InvalidRequestError(`Missing arguments: strata ${usage}`);
    }
  };
  switch (command) {
    case "ls": {
      for (const d of await strata.listDatasets()) {
        console.log(
          `${d.name}\tlatest ${d.latest ?? "-"}\t${d.durable ? "durable" : "memory"}\tkeeps ${
            plural(d.retention as number, "version")
          }`,
        );
      }
      return 0;
    }
    case "describe": {
      need(1, "describe DATASET");
      console.log(JSON.stringify(await strata.describeDataset(args[0]!), null, 2));
      return 0;
    }
    case "create": {
      need(2, "create DATASET FILE [--durable] [--retention K]");
      const description = await readInputText(args[1]!);
      const retention = flags.retention === undefined
        ? undefined
        : integer(flags.retention, "--retention");
      const made = await strata.createDataset(args[0]!, description, {
        durable: flags.durable === true,
        ...(retention === undefined ? {} : { retention }),
      });
      console.log(JSON.stringify(made));
      return 0;
    }
    case "versions": {
      need(1, "versions DATASET");
      for (const v of await strata.versions(args[0]!)) {
        console.log(
          `${v.version}\t${v.state}\t${plural(v.fragments as number, "fragment")}\t${
            plural(v.bytes as number, "byte")
          }`,
        );
      }
      return 0;
    }
    case "delete": {
      need(1, "delete DATASET [--force]");
      await strata.deleteDataset(args[0]!, { force: flags.force === true });
      console.log(`deleted ${args[0]}`);
      return 0;
    }
    case "publish": {
      need(4, "publish DATASET VERSION FRAGMENT FILE [--bind NAME=VALUE]");
      const [dataset, version, fragment, file] = args as [string, string, string, string];
      const bytes = file === "-" ? await readAll(Deno.stdin.readable) : await readInput(file);
      const shown = progress(`publish ${dataset} ${version} ${fragment}`, bytes.byteLength);
      const r = await strata.publish(dataset, integer(version, "VERSION"), fragment, bytes, {
        params: flags.bindings,
        ...(bytes.byteLength >= PROGRESS_MIN_BYTES ? { onProgress: shown.update } : {}),
      });
      shown.done();
      console.log(JSON.stringify(r));
      return 0;
    }
    case "commit": {
      need(2, "commit DATASET VERSION");
      console.log(JSON.stringify(await strata.commit(args[0]!, integer(args[1]!, "VERSION"))));
      return 0;
    }
    case "attach": {
      need(
        2,
        "attach DATASET FRAGMENT [--version N|latest] [--wait MS] [--bind NAME=VALUE] > FILE",
      );
      const version = flags.version === undefined || flags.version === "latest"
        ? "latest"
        : integer(flags.version, "--version");
      const waitMs = flags.wait === undefined ? undefined : integer(flags.wait, "--wait");
      if (waitMs !== undefined) {
        sayWaiting(
          `${version === "latest" ? "a committed version" : `version ${version}`} of '${args[0]}'`,
          waitMs,
        );
      }
      let shown: ReturnType<typeof progress> | undefined;
      const a = await strata.attach(args[0]!, args[1]!, {
        version,
        params: flags.bindings,
        ...(waitMs === undefined ? {} : { waitMs }),
        onProgress: (done, total) => {
          shown ??= progress(`attach ${args[0]} ${args[1]}`, total);
          shown.update(done);
        },
      });
      shown?.done();
      const out = Deno.stdout.writable.getWriter();
      await out.write(a.bytes);
      out.releaseLock();
      console.error(`attached version ${a.version}: ${a.bytes.byteLength} bytes`);
      return 0;
    }
    case "watch": {
      need(2, "watch DATASET FRAGMENT [--from N] [--ahead K] [--wait MS] [--bind NAME=VALUE]");
      const [dataset, fragment] = args as [string, string];
      const waitMs = flags.wait === undefined ? 60_000 : integer(flags.wait, "--wait");
      // From the latest committed version unless told: what a watch of a running stream wants.
      const latest = (await strata.describeDataset(dataset)).latest;
      const from = flags.from === undefined
        ? typeof latest === "number" && latest > 0 ? latest : 1
        : integer(flags.from, "--from");
      const ahead = flags.ahead === undefined ? undefined : integer(flags.ahead, "--ahead");
      const started = performance.now();
      let count = 0;
      let bytes = 0;
      for await (
        const step of strata.steps(dataset, fragment, {
          params: flags.bindings,
          waitMs,
          from,
          ...(ahead === undefined ? {} : { ahead }),
        })
      ) {
        count++;
        bytes += step.bytes.byteLength;
        console.log(
          `${step.version}\t${plural(step.bytes.byteLength, "byte")}\tdropped ${step.dropped}`,
        );
      }
      const seconds = (performance.now() - started) / 1000;
      console.error(
        `no version of '${dataset}' within ${waitMs} ms: ${plural(count, "version")}, ${
          plural(bytes, "byte")
        } in ${seconds.toFixed(1)} s`,
      );
      return 0;
    }
    case "flush": {
      need(2, "flush DATASET VERSION [--tier TIER]");
      const r = await strata.flush(
        args[0]!,
        integer(args[1]!, "VERSION"),
        flags.tier === undefined ? {} : { tier: flags.tier },
      );
      console.log(JSON.stringify(r));
      return 0;
    }
    case "nodes": {
      for (const n of await strata.nodes() as readonly NodeLine[]) console.log(formatNode(n));
      return 0;
    }
    case "services": {
      if (args[0] !== undefined) {
        console.log(JSON.stringify(await strata.service(args[0]), null, 2));
        return 0;
      }
      for (const name of await strata.services()) {
        const s = await strata.service(name);
        const runtimes = s.placement.runtimes.map((r) => r.name).join(", ");
        console.log(
          [
            name,
            plural(s.placement.numTargets, "target"),
            `runtimes ${runtimes}`,
            `operations ${s.operations.join(" ")}`,
          ].join("\t"),
        );
      }
      return 0;
    }
    default:
      return await runHdf5Command(strata, command, args, {
        durable: flags.durable,
        retention: flags.retention === undefined
          ? undefined
          : integer(flags.retention, "--retention"),
      });
  }
}

function integer(text: string, what: string): number {
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n)) {
    throw new InvalidRequestError(`Invalid ${what} '${text}': expected an integer`);
  }
  return n;
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A node as `GET /v1/nodes` lists it: live figures for the answering node, lease figures for others. */
interface NodeLine {
  readonly node?: string;
  readonly id?: string;
  readonly url?: string;
  readonly state?: string;
  readonly fragments?: number;
  readonly used?: number;
  readonly capacity?: number;
  readonly placement?: { readonly name: string } | null;
  readonly tiers?: readonly {
    readonly name: string;
    readonly kind?: string;
    readonly count?: number;
    readonly used?: number;
    readonly capacity: number;
    readonly persistent?: boolean;
  }[];
}

/**
 * The lines of one node: its state, usage and placement when known, then one
 * line per tier. Nodes other than the one answering report their tiers as of
 * their last lease renewal, without counts or placement.
 */
function formatNode(n: NodeLine): string {
  const tiers = n.tiers ?? [];
  const used = n.used ?? tiers.reduce((s, t) => s + (t.used ?? 0), 0);
  const capacity = n.capacity ?? tiers.reduce((s, t) => s + t.capacity, 0);
  // Live figures for the node that answers; a node whose lease lapsed says so.
  const head = [
    n.node ?? n.id ?? "?",
    ...(n.fragments === undefined ? [] : [plural(n.fragments, "fragment")]),
    `${used} of ${capacity} bytes`,
    ...(n.placement ? [`placement ${n.placement.name}`] : []),
    ...(n.state === undefined || n.state === "up" ? [] : [n.state]),
  ];
  const lines = [head.join("\t")];
  for (const t of tiers) {
    lines.push(
      [
        `  ${t.name}`,
        t.kind ?? "-",
        ...(t.count === undefined ? [] : [plural(t.count, "copy", "copies")]),
        `${t.used ?? "?"} of ${t.capacity} bytes`,
        ...(t.persistent ? ["persistent"] : []),
      ].join("\t"),
    );
  }
  return lines.join("\n");
}

/** `1 copy`, `2 copies`. */
function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
