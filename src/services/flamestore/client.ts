/**
 * The FlameStore client: register a model, save and load its weights,
 * reload its architecture, duplicate it, over
 * `POST /v1/services/flamestore/<operation>`; weights travel raw (framed
 * `save_bytes` and `load_bytes`), a save sent to the runtime of the model's
 * target straight. `ioHandler()` and `router()` plug it into
 * TensorFlow.js: `model.save("strata://lenet5")` and
 * `tf.loadLayersModel("strata://lenet5")`.
 *
 * @module
 */

import { encode } from "@msgpack/msgpack";
import { hash32 } from "../hash.ts";
import { ConflictError, InternalError, NotFoundError } from "../../errors.ts";
import { frame, OCTET_STREAM } from "../frames.ts";
import { joinBytes } from "../../http/join_bytes.ts";
import type { MetaLease } from "../meta.ts";
import { MSGPACK, ServiceClient, type ServiceClientOptions } from "../service_client.ts";
import type { TargetRing } from "../targets.ts";
import { type ModelRecord, type ModelSpec, signatureOf, type WeightSpec } from "./model.ts";

/** Options of a connection. */
export interface FlameStoreOptions extends ServiceClientOptions {
  /** The service's name in config (default `flamestore`). */
  readonly service?: string;
}

/** What a save answers. */
export interface Saved {
  /** Saves of the model so far, this one included. */
  readonly saves: number;
  /** The model's signature. */
  readonly signature: string;
}

/** A model's weights as loaded. */
export interface Weights {
  /** The bytes, tensors back to back in the order of the model's weight specs. */
  readonly data: Uint8Array;
  /** The model's signature. */
  readonly signature: string;
  /** Which save they are (1: the first). */
  readonly saves: number;
}

/**
 * The parts of TensorFlow.js's `ModelArtifacts` a model store uses
 * (structurally the same: a TensorFlow.js model saves into and loads from
 * it without this module importing TensorFlow.js).
 */
export interface ModelArtifacts {
  /** The architecture (Keras JSON). */
  modelTopology?: unknown;
  /** Optimizer, loss and metrics. */
  trainingConfig?: unknown;
  /** The weights' tensors. */
  weightSpecs?: WeightSpec[];
  /** Their bytes, in one buffer or in pieces. */
  weightData?: ArrayBuffer | ArrayBuffer[];
  /** Other fields TensorFlow.js sets (format, generatedBy, ...), not stored. */
  [field: string]: unknown;
}

/** TensorFlow.js's `SaveResult`. */
export interface SaveResult {
  /** What was saved. */
  modelArtifactsInfo: {
    dateSaved: Date;
    modelTopologyType: "JSON";
    modelTopologyBytes?: number;
    weightSpecsBytes?: number;
    weightDataBytes?: number;
  };
}

/** TensorFlow.js's `IOHandler`: where `model.save()` and `loadLayersModel()` go. */
export interface IOHandler {
  /** Saves a model's artifacts. */
  save(artifacts: ModelArtifacts): Promise<SaveResult>;
  /** Loads them. */
  load(): Promise<ModelArtifacts>;
}

/**
 * Weights under this many bytes are loaded over HTTP even on the node of
 * their runtime, once this client knows their size: reading them in place
 * costs a lease and its release, two requests (about 2 ms on loopback
 * here), which one framed answer of a few MiB does not.
 */
const LEASE_FROM_BYTES = 4 << 20;

/** Models whose weights' size a client keeps, at most. */
const SIZES_KEPT = 4096;

/** The URL scheme the router answers. */
export const SCHEME = "strata://";

/**
 * A connection to a FlameStore service.
 *
 * @example
 * ```ts ignore
 * const store = await FlameStore.connect("http://127.0.0.1:7070");
 * await store.register("lenet5", { topology, weightSpecs });
 * await store.save("lenet5", bytes, { weightSpecs });
 * const { data } = await store.load("lenet5");
 * ```
 */
export class FlameStore {
  readonly #client: ServiceClient;
  /** Bytes of the weights of models this client saved or loaded (at most `SIZES_KEPT`). */
  readonly #sizes = new Map<string, number>();

  private constructor(client: ServiceClient) {
    this.#client = client;
  }

  /** Connects, reading where the service's targets are. */
  static async connect(url: string, options: FlameStoreOptions = {}): Promise<FlameStore> {
    const { service, ...o } = options;
    return new FlameStore(await ServiceClient.connect(url, service ?? "flamestore", o));
  }

  /** The server's base URL. */
  get url(): string {
    return this.#client.url;
  }

  /** The service's targets and the runtimes holding them. */
  get ring(): TargetRing {
    return this.#client.ring;
  }

  /** The target model `name` hashes to: its writes run on that target's runtime. */
  targetOf(name: string): number {
    return this.#client.ring.targetOf(hash32(new TextEncoder().encode(name)));
  }

  /**
   * Registers model `name` with its architecture and the shape of its
   * weights; `ConflictError` when the name is taken. Answers its record.
   */
  register(name: string, spec: ModelSpec): Promise<ModelRecord> {
    return this.#client.call("register", { name, ...spec });
  }

  /** The record of `name` (architecture, weight specs, signature, saves), without weights. */
  reload(name: string): Promise<ModelRecord> {
    return this.#client.call("reload", { name });
  }

  /**
   * Saves the weights of `name`, replacing the last save; `ConflictError`
   * when their specs (or signature) do not fit the model's registered shape.
   */
  async save(
    name: string,
    data: Uint8Array,
    check: { readonly weightSpecs: readonly WeightSpec[] } | { readonly signature: string },
  ): Promise<Saved> {
    const signature = "signature" in check ? check.signature : signatureOf(check.weightSpecs);
    const runtime = this.#client.runtimeOf(this.targetOf(name));
    // On the node of the model's runtime, a client that stages writes the
    // weights into its shm tier, and the runtime stores them from the file.
    const stage = await this.#client.stageOn(runtime, data);
    const res = stage === undefined
      ? await this.#client.sendTo(runtime, "save_bytes", {
        type: OCTET_STREAM,
        accept: MSGPACK,
        body: joinBytes(frame({ name, signature }, [data])),
      })
      : await this.#client.sendTo(runtime, "save", {
        type: MSGPACK,
        accept: MSGPACK,
        body: encode({ name, signature, stage }) as Uint8Array<ArrayBuffer>,
      });
    const saved = await this.#client.answer<Saved>(res);
    this.#remember(name, data.byteLength);
    return saved;
  }

  /**
   * The weights saved last; `NotFoundError` when the model is unknown or
   * was never saved. On the node of the model's runtime, a client that
   * stages (option `stage`) reads them in place from the file that runtime
   * leases on its shm tier, no bytes crossing HTTP; otherwise they come in
   * a framed answer.
   */
  async load(name: string): Promise<Weights> {
    const runtime = this.#client.runtimeOf(this.targetOf(name));
    const known = this.#sizes.get(name);
    if (this.#client.readsOn(runtime) && !(known !== undefined && known < LEASE_FROM_BYTES)) {
      const got = await this.#readInPlace(runtime, name);
      if (got !== undefined) {
        this.#remember(name, got.data.byteLength);
        return got;
      }
    }
    const { header, parts } = await this.#client.framed(runtime, "load_bytes", {
      type: MSGPACK,
      body: encode({ name }) as Uint8Array<ArrayBuffer>,
    });
    const data = parts[0];
    if (data === null || data === undefined) {
      throw new InternalError(`FlameStore answered no weights for '${name}'`);
    }
    this.#remember(name, data.byteLength);
    return { data, signature: header.signature as string, saves: header.saves as number };
  }

  #remember(name: string, bytes: number): void {
    if (this.#sizes.size >= SIZES_KEPT && !this.#sizes.has(name)) this.#sizes.clear();
    this.#sizes.set(name, bytes);
  }

  /**
   * The weights of `name`, read in place from the file the runtime at
   * `runtime` leased (or sent in its answer when small); undefined when
   * they are to be loaded over HTTP (held elsewhere, every lease of the
   * node taken, or a file this process cannot read).
   */
  async #readInPlace(runtime: number, name: string): Promise<Weights | undefined> {
    const found = await this.#client.callLeasing<
      { signature: string; saves: number; weights: MetaLease }
    >("lease", { name }, runtime);
    if (found === undefined) return undefined;
    const data = (await this.#client.readLeased(runtime, [found.weights]))?.values[0];
    return data === undefined
      ? undefined
      : { data, signature: found.signature, saves: found.saves };
  }

  /** Registers `name` as a copy of `source` (its record and weights); `ConflictError` when taken. */
  duplicate(source: string, name: string): Promise<ModelRecord> {
    return this.#client.call("duplicate", { source, name });
  }

  /** Deletes model `name` and its weights; false when there was none. */
  async delete(name: string): Promise<boolean> {
    return (await this.#client.call<{ deleted: boolean }>("delete", { name })).deleted;
  }

  /** Model names in name order, after `after`, at most `limit` (default 1000). */
  async list(
    options: { readonly after?: string; readonly limit?: number } = {},
  ): Promise<string[]> {
    return (await this.#client.call<{ models: string[] }>("list", options)).models;
  }

  /**
   * A TensorFlow.js IOHandler of model `name`: `save` registers the model
   * at its first save (its topology, training config and weight specs),
   * then saves the weights; `load` answers the architecture and the
   * weights saved last.
   */
  ioHandler(name: string): IOHandler {
    return {
      save: async (a) => {
        const weightSpecs = a.weightSpecs ?? [];
        const data = joinBuffers(a.weightData);
        try {
          await this.reload(name);
        } catch (e) {
          if (!(e instanceof NotFoundError)) throw e;
          try {
            await this.register(name, {
              topology: a.modelTopology ?? null,
              trainingConfig: a.trainingConfig ?? null,
              weightSpecs,
            });
          } catch (e) {
            // Another save registered it meanwhile: the save below checks
            // these weights against that registration.
            if (!(e instanceof ConflictError)) throw e;
          }
        }
        await this.save(name, data, { weightSpecs });
        return {
          modelArtifactsInfo: {
            dateSaved: new Date(),
            modelTopologyType: "JSON",
            weightDataBytes: data.byteLength,
          },
        };
      },
      load: async () => {
        const [r, w] = await Promise.all([this.reload(name), this.load(name)]);
        const weightData = w.data.slice().buffer;
        return {
          modelTopology: r.topology,
          ...(r.trainingConfig === null ? {} : { trainingConfig: r.trainingConfig }),
          weightSpecs: [...r.weightSpecs],
          weightData,
        };
      },
    };
  }

  /**
   * A TensorFlow.js router: the IOHandler of `strata://<model>` URLs, null
   * for any other (register it with `tf.io.registerSaveRouter` and
   * `tf.io.registerLoadRouter`).
   */
  router(): (url: string | string[]) => IOHandler | null {
    return (url) => {
      if (typeof url !== "string" || !url.startsWith(SCHEME)) return null;
      return this.ioHandler(decodeURIComponent(url.slice(SCHEME.length)));
    };
  }
}

/** One buffer of TensorFlow.js's weight data, given in one piece or several. */
function joinBuffers(data: ArrayBuffer | ArrayBuffer[] | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  if (!Array.isArray(data)) return new Uint8Array(data);
  return joinBytes(data.map((b) => new Uint8Array(b)));
}
