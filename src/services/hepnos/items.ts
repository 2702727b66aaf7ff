/**
 * The client's items: `DataSet`, `Run`, `SubRun` and `Event` handles, each
 * storing and loading products; containers create, find and iterate their
 * children in order.
 *
 * @module
 */

import { NotFoundError } from "../../errors.ts";
import type { AsyncEngine, WriteBatch } from "./batch.ts";
import type { DataStore } from "./client.ts";
import { datasetUuid, decodeItem, encodeItem, INVALID, type Item } from "./codec.ts";
import type { Prefetcher } from "./prefetcher.ts";

/** How a write goes: now, queued in a write batch, or through an async engine. */
export interface WriteOptions {
  /** Queue it in this batch (sent at its size, on `flush()` or `close()`). */
  readonly batch?: WriteBatch;
  /** Run it in this engine (errors collected in `errors`). */
  readonly async?: AsyncEngine;
}

/** How a load goes. */
export interface LoadOptions {
  /** Take it from this prefetcher's cache when there. */
  readonly prefetcher?: Prefetcher;
  /** First byte wanted. */
  readonly offset?: number;
  /** Bytes wanted from `offset`. */
  readonly length?: number;
}

/** Typed arrays products may hold. */
export type NumberArray =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/** A constructor of a typed array. */
export type NumberArrayType<T extends NumberArray> = {
  new (buffer: ArrayBuffer, byteOffset?: number, length?: number): T;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
};

const PAGE = 1000;

/** What every item has: a descriptor, products stored and loaded by (label, type). */
export abstract class ItemHandle {
  /** The connection. */
  readonly datastore: DataStore;
  /** The item's 40-byte descriptor. */
  readonly descriptor: Uint8Array;
  /** Its parts. */
  readonly item: Item;

  /** A handle of the item `item`. */
  constructor(datastore: DataStore, item: Item) {
    this.datastore = datastore;
    this.item = item;
    this.descriptor = encodeItem(item);
  }

  /**
   * Stores `value` as product (`label`, `type`); true when stored, false
   * when one was stored before and the service keeps the first. Queued
   * writes answer true once queued.
   */
  async store(
    label: string,
    type: string,
    value: Uint8Array,
    options: WriteOptions = {},
  ): Promise<boolean> {
    const product = { item: this.descriptor, label, type, value };
    if (options.batch !== undefined) {
      await options.batch.store(product);
      return true;
    }
    if (options.async !== undefined) {
      await options.async.submit(() => this.store(label, type, value));
      return true;
    }
    return (await this.datastore.storeProducts([product]))[0]!;
  }

  /**
   * Stores elements `start` to `end` of `array` as a product of type
   * `<ArrayType>` (HEPnOS's `store(label, vector, start, end)`).
   */
  storeArray(
    label: string,
    array: NumberArray,
    range: { readonly start?: number; readonly end?: number } = {},
    options: WriteOptions = {},
  ): Promise<boolean> {
    const part = array.subarray(range.start ?? 0, range.end ?? array.length);
    const bytes = new Uint8Array(part.buffer, part.byteOffset, part.byteLength).slice();
    return this.store(label, array.constructor.name, bytes, options);
  }

  /** Stores a JSON value as product (`label`, `type`). */
  storeJson(
    label: string,
    type: string,
    value: unknown,
    options: WriteOptions = {},
  ): Promise<boolean> {
    return this.store(label, type, new TextEncoder().encode(JSON.stringify(value)), options);
  }

  /** The bytes of product (`label`, `type`), or undefined when none is stored. */
  async load(
    label: string,
    type: string,
    options: LoadOptions = {},
  ): Promise<Uint8Array | undefined> {
    const ranged = options.offset !== undefined || options.length !== undefined;
    if (options.prefetcher !== undefined && !ranged) {
      const hit = options.prefetcher.take(this.descriptor, label, type);
      if (hit !== undefined) return hit ?? undefined;
    }
    const [value] = await this.datastore.loadProducts([{
      item: this.descriptor,
      label,
      type,
      ...(options.offset === undefined ? {} : { offset: options.offset }),
      ...(options.length === undefined ? {} : { length: options.length }),
    }]);
    return value;
  }

  /** A product stored with `storeArray`, as a typed array of `type`. */
  async loadArray<T extends NumberArray>(
    label: string,
    type: NumberArrayType<T>,
    options: LoadOptions = {},
  ): Promise<T | undefined> {
    const bytes = await this.load(label, type.name, options);
    if (bytes === undefined) return undefined;
    const copy = bytes.slice();
    return new type(copy.buffer, 0, copy.byteLength / type.BYTES_PER_ELEMENT);
  }

  /** A product stored with `storeJson`. */
  async loadJson<T>(
    label: string,
    type: string,
    options: LoadOptions = {},
  ): Promise<T | undefined> {
    const bytes = await this.load(label, type, options);
    return bytes === undefined ? undefined : JSON.parse(new TextDecoder().decode(bytes)) as T;
  }

  /** The labels and type names of the products stored (of `label` only, when given). */
  async products(label?: string): Promise<{ label: string; type: string }[]> {
    const r = await this.datastore.call<{ products: { label: string; type: string }[] }>(
      "products",
      { item: this.descriptor, ...(label === undefined ? {} : { label }) },
    );
    return r.products;
  }

  /** Creates a child item (its handle's descriptor) now, in a batch or through an engine. */
  protected async createChild(d: Uint8Array, options: WriteOptions): Promise<void> {
    if (options.batch !== undefined) return await options.batch.create(d);
    if (options.async !== undefined) {
      return await options.async.submit(() => this.datastore.call("create", { items: [d] }));
    }
    await this.datastore.call("create", { items: [d] });
  }

  /** Children from a number on, in order. */
  protected async childItems(
    from: bigint | undefined,
    exclusive: boolean,
    limit: number,
  ): Promise<Item[]> {
    const r = await this.datastore.call<{ items: Uint8Array[] }>("children", {
      parent: this.descriptor,
      ...(from === undefined ? {} : { from: from.toString() }),
      exclusive,
      limit,
    });
    return r.items.map(decodeItem);
  }

  /** Every child, in order, a page at a time. */
  protected async *allChildren(): AsyncIterableIterator<Item> {
    let from: bigint | undefined;
    for (;;) {
      const page = await this.childItems(from, from !== undefined, PAGE);
      yield* page;
      if (page.length < PAGE) return;
      from = childNumber(page.at(-1)!);
    }
  }

  /** The child numbered `n`, or undefined. */
  protected async findChild(n: bigint): Promise<Item | undefined> {
    const [first] = await this.childItems(n, false, 1);
    return first !== undefined && childNumber(first) === n ? first : undefined;
  }

  /** The first child numbered at least (or, `exclusive`, above) `n`, or undefined. */
  protected async boundChild(n: bigint, exclusive: boolean): Promise<Item | undefined> {
    return (await this.childItems(n, exclusive, 1))[0];
  }
}

function childNumber(item: Item): bigint {
  return item.event !== INVALID ? item.event : item.subrun !== INVALID ? item.subrun : item.run;
}

function missing(what: string, n: bigint): NotFoundError {
  return new NotFoundError(`No ${what} ${n}`, { fields: { [what]: n.toString() } });
}

/**
 * A dataset: nested datasets (by name, alphabetical) and runs (by number).
 *
 * @example
 * ```ts ignore
 * const nova = await store.root().createDataSet("nova");
 * for await (const d of store.root().dataSets()) console.log(d.path);
 * ```
 */
export class DataSet extends ItemHandle {
  /** Its path, `a/b/c` (`""` for the root). */
  readonly path: string;

  /** A handle of the dataset `path` with UUID `uuid`. */
  constructor(datastore: DataStore, path: string, uuid: Uint8Array) {
    super(datastore, { uuid, run: INVALID, subrun: INVALID, event: INVALID });
    this.path = path;
  }

  /** The root dataset. */
  static root(datastore: DataStore): DataSet {
    return new DataSet(datastore, "", ROOT_UUID);
  }

  /** The dataset with UUID `uuid`; `NotFoundError` when none has it. */
  static async fromUuid(datastore: DataStore, uuid: Uint8Array): Promise<DataSet> {
    const r = await datastore.call<{ path: string }>("dataset_path", { uuid });
    return new DataSet(datastore, r.path, uuid);
  }

  /** Its last name (`""` for the root). */
  get name(): string {
    return this.path.split("/").at(-1)!;
  }

  /** Its UUID. */
  get uuid(): Uint8Array {
    return this.item.uuid;
  }

  /** Creates child dataset `name` (refusing `/` and `%`), or returns the existing one. */
  async createDataSet(name: string): Promise<DataSet> {
    const r = await this.datastore.call<{ path: string; uuid: Uint8Array }>("create_dataset", {
      parent: this.path,
      name,
    });
    return new DataSet(this.datastore, r.path, r.uuid);
  }

  /** The dataset at `path` below this one (`operator[]`); `NotFoundError` when missing. */
  async dataSet(path: string): Promise<DataSet> {
    const full = this.path === "" ? path : `${this.path}/${path}`;
    const r = await this.datastore.call<{ path: string; uuid: Uint8Array }>("dataset", {
      path: full,
    });
    return new DataSet(this.datastore, r.path, r.uuid);
  }

  /** Child dataset `name`, or undefined. */
  async find(name: string): Promise<DataSet | undefined> {
    const [first] = await this.#dataSets(name, false, 1);
    return first?.name === name ? first : undefined;
  }

  /** The first child dataset whose name is at least `name`, or undefined. */
  async lowerBound(name: string): Promise<DataSet | undefined> {
    return (await this.#dataSets(name, false, 1))[0];
  }

  /** The first child dataset whose name is above `name`, or undefined. */
  async upperBound(name: string): Promise<DataSet | undefined> {
    return (await this.#dataSets(name, true, 1))[0];
  }

  /** The child datasets in name order. */
  async *dataSets(): AsyncIterableIterator<DataSet> {
    let from: string | undefined;
    for (;;) {
      const page = await this.#dataSets(from, from !== undefined, PAGE);
      yield* page;
      if (page.length < PAGE) return;
      from = page.at(-1)!.name;
    }
  }

  async #dataSets(from: string | undefined, exclusive: boolean, limit: number): Promise<DataSet[]> {
    const r = await this.datastore.call<{ datasets: { path: string; uuid: Uint8Array }[] }>(
      "datasets",
      { parent: this.path, ...(from === undefined ? {} : { from }), exclusive, limit },
    );
    return r.datasets.map((d) => new DataSet(this.datastore, d.path, d.uuid));
  }

  /** Creates run `n` (idempotent). */
  async createRun(n: bigint, options: WriteOptions = {}): Promise<Run> {
    const run = new Run(this.datastore, {
      uuid: this.uuid,
      run: n,
      subrun: INVALID,
      event: INVALID,
    });
    await this.createChild(run.descriptor, options);
    return run;
  }

  /** Run `n`; `NotFoundError` when missing. */
  async run(n: bigint): Promise<Run> {
    return (await this.findRun(n)) ?? (() => {
      throw missing("run", n);
    })();
  }

  /** Run `n`, or undefined. */
  async findRun(n: bigint): Promise<Run | undefined> {
    const item = await this.findChild(n);
    return item === undefined ? undefined : new Run(this.datastore, item);
  }

  /** The first run numbered at least `n`, or undefined. */
  async runLowerBound(n: bigint): Promise<Run | undefined> {
    const item = await this.boundChild(n, false);
    return item === undefined ? undefined : new Run(this.datastore, item);
  }

  /** The first run numbered above `n`, or undefined. */
  async runUpperBound(n: bigint): Promise<Run | undefined> {
    const item = await this.boundChild(n, true);
    return item === undefined ? undefined : new Run(this.datastore, item);
  }

  /** The runs in numeric order. */
  async *runs(): AsyncIterableIterator<Run> {
    for await (const item of this.allChildren()) yield new Run(this.datastore, item);
  }

  /**
   * The events of this dataset (not of nested ones): those of target
   * `target` in (run, subrun, event) order, or, without one, every target's
   * in turn, targets ascending. A subrun's events are never split.
   */
  async *events(target?: number): AsyncIterableIterator<Event> {
    const targets = target === undefined ? [...Array(this.datastore.numTargets).keys()] : [target];
    for (const t of targets) {
      let after: Uint8Array | undefined;
      for (;;) {
        const r = await this.datastore.call<{ items: Uint8Array[] }>("events", {
          dataset: this.uuid,
          target: t,
          ...(after === undefined ? {} : { after }),
          limit: PAGE,
        });
        for (const d of r.items) yield new Event(this.datastore, decodeItem(d));
        if (r.items.length < PAGE) break;
        after = r.items.at(-1);
      }
    }
  }
}

/** The root dataset's UUID, derived from the empty path as the server derives it. */
const ROOT_UUID = datasetUuid([]);

/**
 * A run: subruns by number.
 *
 * @example
 * ```ts ignore
 * const run = await dataset.createRun(42n);
 * const sub = await run.createSubRun(0n);
 * ```
 */
export class Run extends ItemHandle {
  /** Its number. */
  get number(): bigint {
    return this.item.run;
  }

  /** Creates subrun `n` (idempotent). */
  async createSubRun(n: bigint, options: WriteOptions = {}): Promise<SubRun> {
    const sub = new SubRun(this.datastore, { ...this.item, subrun: n });
    await this.createChild(sub.descriptor, options);
    return sub;
  }

  /** SubRun `n`; `NotFoundError` when missing. */
  async subRun(n: bigint): Promise<SubRun> {
    return (await this.findSubRun(n)) ?? (() => {
      throw missing("subrun", n);
    })();
  }

  /** SubRun `n`, or undefined. */
  async findSubRun(n: bigint): Promise<SubRun | undefined> {
    const item = await this.findChild(n);
    return item === undefined ? undefined : new SubRun(this.datastore, item);
  }

  /** The first subrun numbered at least `n`, or undefined. */
  async subRunLowerBound(n: bigint): Promise<SubRun | undefined> {
    const item = await this.boundChild(n, false);
    return item === undefined ? undefined : new SubRun(this.datastore, item);
  }

  /** The first subrun numbered above `n`, or undefined. */
  async subRunUpperBound(n: bigint): Promise<SubRun | undefined> {
    const item = await this.boundChild(n, true);
    return item === undefined ? undefined : new SubRun(this.datastore, item);
  }

  /** The subruns in numeric order. */
  async *subRuns(): AsyncIterableIterator<SubRun> {
    for await (const item of this.allChildren()) yield new SubRun(this.datastore, item);
  }
}

/**
 * A subrun: events by number.
 *
 * @example
 * ```ts ignore
 * const event = await subrun.createEvent(7n);
 * await event.storeArray("hits", new Float64Array([1, 2, 3]));
 * ```
 */
export class SubRun extends ItemHandle {
  /** Its number. */
  get number(): bigint {
    return this.item.subrun;
  }

  /** Its run's number. */
  get run(): bigint {
    return this.item.run;
  }

  /** Creates event `n` (idempotent). */
  async createEvent(n: bigint, options: WriteOptions = {}): Promise<Event> {
    const event = new Event(this.datastore, { ...this.item, event: n });
    await this.createChild(event.descriptor, options);
    return event;
  }

  /** Event `n`; `NotFoundError` when missing. */
  async event(n: bigint): Promise<Event> {
    return (await this.findEvent(n)) ?? (() => {
      throw missing("event", n);
    })();
  }

  /** Event `n`, or undefined. */
  async findEvent(n: bigint): Promise<Event | undefined> {
    const item = await this.findChild(n);
    return item === undefined ? undefined : new Event(this.datastore, item);
  }

  /** The first event numbered at least `n`, or undefined. */
  async eventLowerBound(n: bigint): Promise<Event | undefined> {
    const item = await this.boundChild(n, false);
    return item === undefined ? undefined : new Event(this.datastore, item);
  }

  /** The first event numbered above `n`, or undefined. */
  async eventUpperBound(n: bigint): Promise<Event | undefined> {
    const item = await this.boundChild(n, true);
    return item === undefined ? undefined : new Event(this.datastore, item);
  }

  /** The events in numeric order. */
  async *events(): AsyncIterableIterator<Event> {
    for await (const item of this.allChildren()) yield new Event(this.datastore, item);
  }
}

/**
 * An event: products only.
 *
 * @example
 * ```ts ignore
 * const hits = await event.loadArray("hits", Float64Array);
 * ```
 */
export class Event extends ItemHandle {
  /** Its number. */
  get number(): bigint {
    return this.item.event;
  }

  /** Its subrun's number. */
  get subrun(): bigint {
    return this.item.subrun;
  }

  /** Its run's number. */
  get run(): bigint {
    return this.item.run;
  }
}
