/**
 * The contract between a service and the kit: what a service is given
 * (`ServiceContext`) and what it offers (`Service`: named operations that
 * the HTTP API serves as `POST /v1/services/<name>/<operation>`).
 *
 * @module
 */

import type { BlobStore } from "./blobs.ts";
import type { ServiceMeta } from "./meta.ts";
import type { TargetRing } from "./targets.ts";

/** What the kit gives a service when it opens. */
export interface ServiceContext {
  /** The service's name, its KV prefix and route segment. */
  readonly name: string;
  /** Its keys in the registry's KV. */
  readonly meta: ServiceMeta;
  /** Its blobs in the node's tiers. */
  readonly blobs: BlobStore;
  /** The targets its keys hash to. */
  readonly targets: TargetRing;
  /** The service's own settings from `services.<name>.options` in config/strata.yaml. */
  readonly options: Readonly<Record<string, unknown>>;
}

/**
 * One operation: takes the decoded request body (JSON or msgpack), answers
 * a value sent back the same way. It checks its input and throws the
 * classes of `src/errors.ts` (`InvalidRequestError` for bad input).
 */
export type Operation = (input: unknown) => Promise<unknown>;

/**
 * How the kit routes an operation to the runtimes holding targets (with
 * several runtimes). With `list`, the input lists items of several targets:
 * each item goes to the runtime holding its target, and the answers'
 * `answer` lists are put back in the input's order. Without, the whole
 * input goes to the runtime of `target(input)`.
 */
export interface TargetRoute {
  /** The input's list field whose items are split by target. */
  readonly list?: string;
  /** The answer's list field, one entry per item, in the items' order (with `list`). */
  readonly answer?: string;
  /** The target of one item (of the input without `list`); `InvalidRequestError` for a bad one. */
  target(item: unknown): number;
}

/** An open service. */
export interface Service {
  /** Its name. */
  readonly name: string;
  /** Its operations by name (`[a-z_]+`). */
  readonly operations: Readonly<Record<string, Operation>>;
  /**
   * Operations whose items go to their targets' runtimes (blob writes: the
   * blob lands in that runtime's tiers). Others run on the runtime that
   * received the request: metadata is shared, and blobs are read from any
   * runtime over the data plane.
   */
  readonly routes?: Readonly<Record<string, TargetRoute>>;
  /** What `GET /v1/services/<name>` answers (targets, settings). */
  info(): unknown;
  /** Waits for work under way and releases what it holds. */
  close(): Promise<void>;
}

/** A kind of service the kit can open, by the name config enables it under. */
export interface ServiceDefinition {
  /** The name in config and routes. */
  readonly name: string;
  /** The keys its `options` may hold. */
  readonly options: readonly string[];
  /** Opens the service. */
  open(context: ServiceContext): Promise<Service>;
}

/**
 * Defines a service (a typed identity helper).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineService } from "./service.ts";
 * const echo = defineService({
 *   name: "echo",
 *   options: [],
 *   open: (ctx) => Promise.resolve({
 *     name: ctx.name,
 *     operations: { echo: (input) => Promise.resolve(input) },
 *     info: () => ({}),
 *     close: () => Promise.resolve(),
 *   }),
 * });
 * assert.equal(echo.name, "echo");
 * ```
 */
export function defineService(definition: ServiceDefinition): ServiceDefinition {
  return definition;
}
