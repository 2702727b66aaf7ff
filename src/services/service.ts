/**
 * The contract between a service and the kit: what a service is given
 * (`ServiceContext`) and what it offers (`Service`: named operations that
 * the HTTP API serves as `POST /v1/services/<name>/<operation>`).
 *
 * @module
 */

import { InvalidRequestError } from "../errors.ts";
import type { BlobStore } from "./blobs.ts";
import { type FrameLayout, frameLayout } from "./frames.ts";
import type { ServiceMeta } from "./meta.ts";
import type { StagedFile } from "../tiers/tier.ts";
import type { TargetRing } from "./targets.ts";

/** What the kit gives a service when it opens. */
export interface ServiceContext {
  /** The service's name, its KV prefix and route segment. */
  readonly name: string;
  /** Its keys in the registry's KV. */
  readonly meta: ServiceMeta;
  /**
   * Its blobs in the node's tiers. A blob put here directly must be named
   * by a value `{ blob: ref }` written through `meta`, or the runtime's
   * sweep of unnamed blobs frees it (`blobSweepMs`, docs/services.md).
   */
  readonly blobs: BlobStore;
  /** The targets its keys hash to. */
  readonly targets: TargetRing;
  /** The runtime this instance runs on: its targets are those `targets.runtimeOf` names it. */
  readonly node: string;
  /** The service's own settings from `services.<name>.options` in config/strata.yaml. */
  readonly options: Readonly<Record<string, unknown>>;
  /**
   * Bodies staged for this service on this node's shm tier
   * (`POST /v1/services/<name>/stages`): an operation that names a stage
   * takes its file and stores it without reading it (a `setFile` of `meta`).
   */
  readonly stages: ServiceStages;
}

/** A staged file an operation took: store it (`setFile`), then `remove()` what is left. */
export interface StagedBody extends StagedFile {
  /** Removes the file if it is still there and gives back the room it held. */
  remove(): Promise<void>;
}

/** The stages of one service on this node. */
export interface ServiceStages {
  /**
   * Takes stage `id` (once): its file, whose size must be the one it was
   * opened for; `NotFoundError` for an unknown, used or expired stage,
   * `InvalidRequestError` for another service's or a file of another size.
   */
  take(id: string): Promise<StagedBody>;
}

/**
 * One operation: takes the decoded request body (JSON or msgpack), answers
 * a value sent back the same way. It checks its input and throws the
 * classes of `src/errors.ts` (`InvalidRequestError` for bad input).
 */
export type Operation = (input: unknown) => Promise<unknown>;

/**
 * The input of an operation called with an `application/octet-stream`
 * body (a product's bytes, a framed batch): the body as it arrived, or the
 * file on this node's shm tier the client staged it in.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RawBody } from "./service.ts";
 * const body = new RawBody(new Uint8Array(3));
 * assert.equal(body.byteLength, 3);
 * assert.equal((await body.read()).length, 3);
 * ```
 */
export class RawBody {
  /**
   * The body's first bytes: all of them for a body sent in the request;
   * for a staged one, its frame's length and header (`readFrameHead`),
   * enough for `frameLayout` and to route the request.
   */
  readonly head: Uint8Array;
  /** The body's size in bytes. */
  readonly byteLength: number;
  /**
   * The file on this node's shm tier holding the body, when the client
   * staged it there: an operation may store it as it is (a pack of the
   * values it holds, `ServiceMeta.writeRanges`) rather than read it and
   * write its bytes again. The route removes what is left of it once the
   * operation ends.
   */
  readonly file: StagedBody | undefined;
  #bytes: Promise<Uint8Array> | undefined;
  #layout: FrameLayout | undefined;

  /** Wraps a body sent in the request, or (with `file`) the first bytes of a staged one. */
  constructor(head: Uint8Array, file?: StagedBody) {
    this.head = head;
    this.file = file;
    this.byteLength = file?.byteLength ?? head.byteLength;
    if (file === undefined) this.#bytes = Promise.resolve(head);
  }

  /**
   * Where a framed body's parts lie, from its head alone (`frameLayout`):
   * enough to route it, or to store a staged body's parts as ranges of its
   * file; `InvalidRequestError` for a body that is not a frame.
   */
  layout(): FrameLayout {
    // Read once: a request's routing and its operation both ask for it.
    return this.#layout ??= frameLayout(this.head, this.byteLength);
  }

  /**
   * The whole body: for a staged body, read from its file (once), which
   * must still hold the bytes it was staged with (`InvalidRequestError`
   * otherwise: the client changed it after naming it).
   */
  read(): Promise<Uint8Array> {
    return this.#bytes ??= Deno.readFile(this.file!.path).then((bytes) => {
      if (bytes.byteLength !== this.byteLength) {
        throw new InvalidRequestError(
          `The staged body holds ${bytes.byteLength} bytes, staged as ${this.byteLength}; send it again`,
          { fields: { expected: this.byteLength, received: bytes.byteLength } },
        );
      }
      return bytes;
    }, (e) => {
      throw new InvalidRequestError(
        `Cannot read the staged body: ${(e as Error).message}; send it again`,
        { cause: e },
      );
    });
  }
}

/**
 * The `RawBody` an operation was called with; `InvalidRequestError` naming
 * `operation` when it came as JSON or msgpack instead.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RawBody, rawBodyOf } from "./service.ts";
 * const body = new RawBody(new Uint8Array(1));
 * assert.equal(rawBodyOf(body, "put_bytes"), body);
 * assert.throws(() => rawBodyOf({}, "put_bytes"), /Invalid put_bytes request/);
 * ```
 */
export function rawBodyOf(input: unknown, operation: string): RawBody {
  if (!(input instanceof RawBody)) {
    throw new InvalidRequestError(
      `Invalid ${operation} request: expected an application/octet-stream framed body`,
    );
  }
  return input;
}

/**
 * An answer sent as `application/octet-stream`: its pieces one after the
 * other, not joined (a blob's bytes as the tier holds them).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RawReply } from "./service.ts";
 * const r = new RawReply([new Uint8Array(2), new Uint8Array(3)]);
 * assert.equal(r.byteLength, 5);
 * ```
 */
export class RawReply {
  /** The pieces in order. */
  readonly pieces: readonly Uint8Array<ArrayBuffer>[];
  /** Wraps the pieces of an answer. */
  constructor(pieces: readonly Uint8Array<ArrayBuffer>[]) {
    this.pieces = pieces;
  }
  /** The answer's length in bytes. */
  get byteLength(): number {
    return this.pieces.reduce((n, p) => n + p.byteLength, 0);
  }
}

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
