/**
 * The services a runtime runs: opened from config over the service
 * metadata (the registry's KV, in this process or at the name server) and
 * the node's tiers, closed with the runtime. With several runtimes the host
 * routes an operation's items to the runtimes holding their targets.
 *
 * @module
 */

import { decode } from "@msgpack/msgpack";
import {
  errorFromBody,
  InternalError,
  InvalidConfigError,
  InvalidRequestError,
  NotFoundError,
  StrataError,
  UnavailableError,
} from "../errors.ts";
import { httpRequest } from "../http/call.ts";
import { Stages } from "../tiers/stages.ts";
import type { TierSet } from "../tiers/tier_set.ts";
import { BlobStore, type FetchBlob } from "./blobs.ts";
import type { ServiceConfig, ServicesConfig } from "./config.ts";
import { ServiceMeta } from "./meta.ts";
import type { MetaKv } from "./meta_kv.ts";
import { OCTET_STREAM } from "./frames.ts";
import { log, metrics } from "../observe/mod.ts";
import {
  RawBody,
  RawReply,
  type Service,
  type ServiceDefinition,
  type ServiceStages,
  type TargetRoute,
} from "./service.ts";
import { TargetRing } from "./targets.ts";
import { msgpackBody } from "../http/msgpack_body.ts";

/** A node as the name server lists it: where its HTTP API listens, and its lease. */
export interface ServiceNode {
  /** Node name. */
  readonly id: string;
  /** Its HTTP base URL. */
  readonly url: string;
  /** When its lease ends (ms since the epoch). */
  readonly leaseUntil: number;
}

/** How a host reaches the other runtimes of a cluster. */
export interface ServiceRouting {
  /** The nodes registered with the name server (read again after a second). */
  nodes(): Promise<readonly ServiceNode[]>;
  /** Reads a blob another node holds over the data plane. */
  readonly fetchBlob?: FetchBlob;
  /** Bearer token of the other runtimes. */
  readonly token?: string;
  /** Deadline of a forwarded request in ms (default 60 000). */
  readonly timeoutMs?: number;
}

/** What a service host needs. */
export interface ServiceHostOptions {
  /** Service metadata: the registry's KV in this process, or the name server's. */
  readonly kv: Deno.Kv | MetaKv;
  /** The node's tiers. */
  readonly tiers: TierSet;
  /** The `services` section of config. */
  readonly config: ServicesConfig;
  /** The kinds of service config may enable. */
  readonly definitions: readonly ServiceDefinition[];
  /** The other runtimes, for services whose targets several runtimes hold. */
  readonly routing?: ServiceRouting;
}

/** An open service and the body limit of its routes. */
export interface HostedService {
  /** The service. */
  readonly service: Service;
  /** Largest request body of its routes, in bytes. */
  readonly maxBodyBytes: number;
  /** Its targets and the runtimes holding them. */
  readonly ring: TargetRing;
}

/** Where a service's targets are: what a client needs to send work straight to a target's runtime. */
export interface ServicePlacement {
  /** How many targets. */
  readonly numTargets: number;
  /** Points each target owns on the ring. */
  readonly virtualNodes: number;
  /** The runtimes in ring order (target `i` on `runtimes[i mod R]`), with their URLs (null: unknown or down, send to any runtime). */
  readonly runtimes: readonly { readonly name: string; readonly url: string | null }[];
}

/** Header marking a request one runtime forwarded to another: it runs where it arrives. */
export const ROUTED_HEADER = "x-strata-routed";

/** How long a read node list is used, in ms. */
const NODES_FRESH_MS = 1000;

/**
 * The open services of one runtime.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KIND_DEFAULTS, MemoryTier, TierSet } from "../tiers/mod.ts";
 * import { defineService, ServiceHost } from "./mod.ts";
 * const spec = { name: "mem", kind: "memory", capacity: 1 << 20, ...KIND_DEFAULTS.memory } as const;
 * const tiers = new TierSet({ node: "n", tiers: [{ tier: new MemoryTier("mem", 1 << 20), spec }] });
 * const kv = await Deno.openKv(":memory:");
 * const echo = defineService({
 *   name: "echo", options: [],
 *   open: (ctx) => Promise.resolve({ name: ctx.name, operations: { echo: (x) => Promise.resolve(x) }, info: () => ({}), close: () => Promise.resolve() }),
 * });
 * const config = { echo: { enabled: true, targets: 2, virtualNodes: 4, durable: false, maxBodyBytes: 1024, options: {}, runtimes: [] } };
 * const host = await ServiceHost.open({ kv, tiers, config, definitions: [echo] });
 * assert.deepEqual([...host.services.keys()], ["echo"]);
 * assert.deepEqual(await host.call("echo", "echo", { a: 1 }), { a: 1 });
 * await host.close();
 * kv.close();
 * ```
 */
export class ServiceHost {
  /** The open services by name. */
  readonly services: ReadonlyMap<string, HostedService>;
  /** The node's tiers (staged request bodies go to its shm tier). */
  readonly tiers: TierSet;
  /** Request bodies staged on the node's shm tier, each for one service (its name). */
  readonly stages: Stages<string>;
  readonly #node: string;
  readonly #routing: ServiceRouting | undefined;
  #nodes: { at: number; list: Promise<readonly ServiceNode[]> } | undefined;
  /** Stops the periodic blob sweeps. */
  #sweeps: (() => void)[] = [];

  private constructor(
    services: ReadonlyMap<string, HostedService>,
    tiers: TierSet,
    routing: ServiceRouting | undefined,
    stages: Stages<string>,
  ) {
    this.services = services;
    this.tiers = tiers;
    this.stages = stages;
    this.#node = tiers.node;
    this.#routing = routing;
  }

  /** Opens every enabled service; `InvalidConfigError` for an unknown one or option. */
  static async open(options: ServiceHostOptions): Promise<ServiceHost> {
    const open = new Map<string, HostedService>();
    const sweeps: (() => void)[] = [];
    // A stage waits 60 s for the request that takes it; at most 256 wait.
    const stages = new Stages<string>(60_000, 256);
    for (const [name, c] of Object.entries(options.config)) {
      const def = options.definitions.find((d) => d.name === name);
      if (def === undefined) {
        throw new InvalidConfigError(
          `Invalid configuration: unknown service '${name}', expected one of ${
            options.definitions.map((d) => d.name).join(", ")
          }`,
        );
      }
      for (const k of Object.keys(c.options)) {
        if (!def.options.includes(k)) {
          throw new InvalidConfigError(
            `Invalid configuration: unknown key 'services.${name}.options.${k}', expected one of ${
              def.options.join(", ") || "none"
            }`,
          );
        }
      }
      if (!c.enabled) continue;
      const blobs = new BlobStore(name, options.tiers, {
        durable: c.durable,
        ...(options.routing?.fetchBlob === undefined ? {} : { fetch: options.routing.fetchBlob }),
      });
      const ring = new TargetRing(c.targets, {
        virtualNodes: c.virtualNodes,
        runtimes: runtimesOf(c, options.tiers.node),
      });
      const meta = new ServiceMeta(options.kv, name, blobs);
      const service = await def.open({
        name,
        meta,
        blobs,
        targets: ring,
        node: options.tiers.node,
        options: c.options,
        stages: serviceStages(stages, name),
      });
      open.set(name, { service, maxBodyBytes: c.maxBodyBytes, ring });
      if ((c.blobSweepMs ?? 0) > 0) sweeps.push(sweepEvery(meta, c.blobSweepMs!));
    }
    const host = new ServiceHost(open, options.tiers, options.routing, stages);
    host.#sweeps = sweeps;
    return host;
  }

  /** The stages of service `name` on this node, as its operations and the routes take them. */
  stagesOf(name: string): ServiceStages {
    return serviceStages(this.stages, name);
  }

  /** The service `name`; `NotFoundError` when none runs under it. */
  service(name: string): HostedService {
    const s = this.services.get(name);
    if (s === undefined) {
      throw new NotFoundError(`Unknown service '${name}'`, { fields: { service: name } });
    }
    return s;
  }

  /**
   * Calls `operation` of service `name`. An operation the service routes
   * by target sends each runtime the items of its targets (this runtime's
   * run here) and answers them in the input's order; `routed` (a request
   * another runtime forwarded) runs everything here. A runtime that is down
   * fails the request with `UnavailableError` naming it and the target.
   */
  async call(
    name: string,
    operation: string,
    input: unknown,
    options: { readonly routed?: boolean } = {},
  ): Promise<unknown> {
    const { service, ring } = this.service(name);
    const op = Object.hasOwn(service.operations, operation)
      ? service.operations[operation]
      : undefined;
    if (op === undefined) {
      throw new NotFoundError(`Service '${service.name}' has no operation '${operation}'`, {
        fields: { service: service.name, operation },
      });
    }
    const route = service.routes?.[operation];
    const run = (part: unknown) => this.#run(service.name, operation, op, part);
    if (route === undefined || options.routed === true || ring.runtimes.length < 2) {
      return await run(input);
    }
    if (route.list === undefined) {
      const target = route.target(input);
      const runtime = ring.runtimeOf(target);
      return runtime === this.#node
        ? await run(input)
        : await this.#forward(runtime, target, name, operation, input);
    }
    const items = (input as Record<string, unknown> | null)?.[route.list];
    if (!Array.isArray(items)) return await run(input);
    // Items by runtime, with their places in the input and the first target seen.
    const groups = new Map<string, { at: number[]; target: number }>();
    items.forEach((item, i) => {
      const target = route.target(item);
      const runtime = ring.runtimeOf(target);
      const g = groups.get(runtime) ?? { at: [], target };
      g.at.push(i);
      groups.set(runtime, g);
    });
    if (groups.size === 1 && groups.has(this.#node)) return await run(input);
    const base = input as Record<string, unknown>;
    const answers = await Promise.all([...groups].map(async ([runtime, g]) => {
      const part = { ...base, [route.list!]: g.at.map((i) => items[i]) };
      const answer = runtime === this.#node
        ? await run(part)
        : await this.#forward(runtime, g.target, name, operation, part);
      return { g, answer: answer as Record<string, unknown> };
    }));
    return merge(route, items.length, answers);
  }

  /**
   * Where service `name`'s targets are, the runtimes' URLs read from the
   * name server (null for each when this runtime runs alone: clients use
   * the URL they reached it by).
   */
  async placement(name: string): Promise<ServicePlacement> {
    const { ring } = this.service(name);
    const routing = this.#routing;
    const urls = new Map<string, string>();
    if (routing !== undefined && ring.runtimes.length > 1) {
      for (const r of ring.runtimes) {
        const n = await this.#liveNode(routing, r).catch(() => undefined);
        if (n !== undefined) urls.set(r, n.url);
      }
    }
    return {
      numTargets: ring.numTargets,
      virtualNodes: ring.virtualNodes,
      runtimes: ring.runtimes.map((r) => ({ name: r, url: urls.get(r) ?? null })),
    };
  }

  /** Runs an operation here, timing it into the service metrics by its outcome. */
  async #run(
    service: string,
    operation: string,
    op: (input: unknown) => Promise<unknown>,
    input: unknown,
  ): Promise<unknown> {
    const end = metrics.serviceOperations.startTimer({ service, operation });
    try {
      const out = await op(input);
      end({ code: "ok" });
      return out;
    } catch (e) {
      end({ code: e instanceof StrataError ? e.code : "internal" });
      throw e;
    }
  }

  /** Closes every service. */
  async close(): Promise<void> {
    for (const stop of this.#sweeps) stop();
    for (const { service } of this.services.values()) await service.close();
  }

  async #forward(
    runtime: string,
    target: number,
    service: string,
    operation: string,
    body: unknown,
  ): Promise<unknown> {
    const routing = this.#routing;
    const node = routing === undefined ? undefined : await this.#liveNode(routing, runtime);
    if (routing === undefined || node === undefined) {
      throw new UnavailableError(
        `Runtime '${runtime}' holding target ${target} of service '${service}' is down`,
        { fields: { node: runtime, service, target } },
      );
    }
    const res = await httpRequest(`${node.url}/v1/services/${service}/${operation}`, {
      method: "POST",
      peer: `Runtime '${runtime}' holding target ${target} of service '${service}'`,
      ...(routing.token === undefined ? {} : { token: routing.token }),
      headers: {
        "content-type": body instanceof RawBody ? OCTET_STREAM : "application/msgpack",
        accept: `application/msgpack, ${OCTET_STREAM}`,
        [ROUTED_HEADER]: "1",
      },
      rawBody: body instanceof RawBody
        ? await body.read() as Uint8Array<ArrayBuffer>
        : msgpackBody(body, { ignoreUndefined: true }),
      timeoutMs: routing.timeoutMs ?? 60_000,
    });
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (res.ok && res.headers.get("content-type") === OCTET_STREAM) return new RawReply([bytes]);
    let data: unknown = null;
    try {
      data = bytes.length === 0 ? null : decode(bytes);
    } catch {
      data = null;
    }
    if (!res.ok) {
      throw errorFromBody((data as { error?: unknown } | null)?.error) ??
        new InternalError(`Runtime '${runtime}' answered ${res.status} to ${operation}`, {
          fields: { node: runtime, status: res.status },
        });
    }
    return data;
  }

  async #liveNode(routing: ServiceRouting, id: string): Promise<ServiceNode | undefined> {
    const now = Date.now();
    if (this.#nodes === undefined || now - this.#nodes.at > NODES_FRESH_MS) {
      const list = routing.nodes();
      this.#nodes = { at: now, list };
      // A failed read is not kept: the next call asks again.
      list.catch(() => this.#nodes = undefined);
    }
    const n = (await this.#nodes.list).find((e) => e.id === id);
    return n !== undefined && n.leaseUntil > Date.now() ? n : undefined;
  }
}

function runtimesOf(c: ServiceConfig, self: string): readonly string[] {
  return c.runtimes.length > 0 ? c.runtimes : [self];
}

function merge(
  route: TargetRoute,
  count: number,
  parts: readonly { g: { at: number[] }; answer: Record<string, unknown> }[],
): unknown {
  const out = new Array<unknown>(count).fill(null);
  for (const { g, answer } of parts) {
    const got = answer?.[route.answer ?? ""];
    if (!Array.isArray(got) || got.length !== g.at.length) {
      throw new InternalError(
        `Routed answer without '${route.answer}' for each of its ${g.at.length} items`,
      );
    }
    g.at.forEach((i, k) => out[i] = got[k]);
  }
  return { ...parts[0]!.answer, [route.answer ?? ""]: out };
}

/**
 * Sweeps `meta`'s unnamed blobs every `ms` (one sweep at a time; a timer
 * that does not keep the process alive); returns what stops it.
 */
function sweepEvery(meta: ServiceMeta, ms: number): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    meta.sweepBlobs().then((r) => {
      if (r.freed > 0) log.info("blobs swept", { service: meta.service, ...r });
    }, (e) => {
      log.warn("blob sweep failed", {
        service: meta.service,
        error: (e as Error).message,
        message: "the next sweep tries again",
      });
    }).finally(() => running = false);
  }, ms);
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}

/** The stages of service `name`, as its operations take them. */
function serviceStages(stages: Stages<string>, name: string): ServiceStages {
  return {
    take: async (id) => {
      const stage = stages.take(id);
      if (stage.payload !== name) {
        await stages.remove(stage);
        throw new InvalidRequestError(
          `Stage '${stage.id}' holds a body of service '${stage.payload}', not '${name}'`,
          { fields: { stage: stage.id } },
        );
      }
      const size = await Deno.stat(stage.path).then((s) => s.size, () => -1);
      if (size !== stage.byteLength) {
        await stages.remove(stage);
        throw new InvalidRequestError(
          `Stage '${stage.id}' was opened for ${stage.byteLength} bytes, its file holds ${
            size < 0 ? "nothing" : size
          }`,
          { fields: { expected: stage.byteLength, received: size } },
        );
      }
      return {
        path: stage.path,
        byteLength: stage.byteLength,
        tier: stage.tier,
        remove: () => stages.remove(stage),
      };
    },
  };
}
