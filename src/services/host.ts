/**
 * The services a runtime runs: opened from config over the registry's KV
 * and the node's tiers, closed with the runtime.
 *
 * @module
 */

import { InvalidConfigError } from "../errors.ts";
import type { TierSet } from "../tiers/tier_set.ts";
import { BlobStore } from "./blobs.ts";
import type { ServicesConfig } from "./config.ts";
import { ServiceMeta } from "./meta.ts";
import type { Service, ServiceDefinition } from "./service.ts";
import { TargetRing } from "./targets.ts";

/** What a service host needs. */
export interface ServiceHostOptions {
  /** The registry's KV. */
  readonly kv: Deno.Kv;
  /** The node's tiers. */
  readonly tiers: TierSet;
  /** The `services` section of config. */
  readonly config: ServicesConfig;
  /** The kinds of service config may enable. */
  readonly definitions: readonly ServiceDefinition[];
}

/** An open service and the body limit of its routes. */
export interface HostedService {
  /** The service. */
  readonly service: Service;
  /** Largest request body of its routes, in bytes. */
  readonly maxBodyBytes: number;
}

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
 *   open: (ctx) => Promise.resolve({ name: ctx.name, operations: {}, info: () => ({}), close: () => Promise.resolve() }),
 * });
 * const config = { echo: { enabled: true, targets: 2, virtualNodes: 4, durable: false, maxBodyBytes: 1024, options: {} } };
 * const host = await ServiceHost.open({ kv, tiers, config, definitions: [echo] });
 * assert.deepEqual([...host.services.keys()], ["echo"]);
 * await host.close();
 * kv.close();
 * ```
 */
export class ServiceHost {
  /** The open services by name. */
  readonly services: ReadonlyMap<string, HostedService>;

  private constructor(services: ReadonlyMap<string, HostedService>) {
    this.services = services;
  }

  /** Opens every enabled service; `InvalidConfigError` for an unknown one or option. */
  static async open(options: ServiceHostOptions): Promise<ServiceHost> {
    const open = new Map<string, HostedService>();
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
      const blobs = new BlobStore(name, options.tiers, { durable: c.durable });
      const service = await def.open({
        name,
        meta: new ServiceMeta(options.kv, name, blobs),
        blobs,
        targets: new TargetRing(c.targets, {
          virtualNodes: c.virtualNodes,
          runtimes: [options.tiers.node],
        }),
        options: c.options,
      });
      open.set(name, { service, maxBodyBytes: c.maxBodyBytes });
    }
    return new ServiceHost(open);
  }

  /** Closes every service. */
  async close(): Promise<void> {
    for (const { service } of this.services.values()) await service.close();
  }
}
