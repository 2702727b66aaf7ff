/**
 * Sizes read from published bytes, on the publishing runtime: a dataset
 * whose size variables were not given at creation (DRepl's
 * `var sz int64; var a [sz]float32`) takes them per version from what its
 * producer publishes. The runtime reads them from the bytes and names them
 * in the copy's bindings, so the copy's key and record say the sizes its
 * layout was made with, and the name server checks them against the
 * version's.
 *
 * @module
 */

import {
  compileDescription,
  type Dataset,
  layoutSizeVariables,
  publishedSizes,
} from "../ddl/mod.ts";
import type { DatasetSettings } from "../name_service/name_service.ts";

/** Descriptions kept compiled: one per dataset a runtime publishes into, usually. */
const KEPT = 64;

/** A publish, as far as its sizes go. */
export interface SizedPublish {
  /** Dataset name. */
  readonly dataset: string;
  /** Version number. */
  readonly version: number;
  /** Fragment name, or `dataset`. */
  readonly fragment: string;
  /** Region parameters (and any size variables the producer gives). */
  readonly bindings: Readonly<Record<string, number>>;
}

/**
 * Reads the sizes of publishes into datasets that take them from their
 * bytes. Pure: the settings and the version's known sizes come from the name
 * server, as arguments.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PublishedSizes } from "./published_sizes.ts";
 * const sizes = new PublishedSizes();
 * const settings = { name: "p", durable: false, description: "dataset { var sz int64\n var a [sz]float32 }", sizes: {} };
 * const bytes = new Uint8Array(8 + 3 * 4);
 * new DataView(bytes.buffer).setBigInt64(0, 3n, true);
 * const req = { dataset: "p", version: 1, fragment: "dataset", bindings: {} };
 * assert.deepEqual(sizes.bindingsOf(settings, req, bytes, {}), { sz: 3 });
 * assert.equal(sizes.layoutBindings(settings, req, {}), undefined);
 * assert.deepEqual(sizes.layoutBindings(settings, req, { sz: 3 }), { sz: 3 });
 * ```
 */
export class PublishedSizes {
  readonly #compiled = new Map<string, Dataset>();

  /**
   * The bindings a copy is laid out and registered with: `req.bindings`
   * and each size variable its layout depends on that was not given at
   * creation, read from `bytes` when the layout stores it, else the
   * version's (`known`). Throws `LayoutError` for bytes whose size
   * variable disagrees with their size or with the version's, or a size
   * neither known nor stored before what it sizes; nothing is stored then.
   */
  bindingsOf(
    settings: DatasetSettings,
    req: SizedPublish,
    bytes: Uint8Array,
    known: Readonly<Record<string, number>>,
  ): Readonly<Record<string, number>> {
    const { ds, own } = this.#own(settings, req.fragment);
    if (own.length === 0) return req.bindings;
    const bound: Record<string, number> = { ...settings.sizes };
    for (const k of own) if (known[k] !== undefined) bound[k] = known[k];
    const read = publishedSizes(ds, bytes, {
      ...(req.fragment === "dataset" ? {} : { fragment: req.fragment }),
      bindings: { ...bound, ...req.bindings },
      sizesOf: `version ${req.version} of '${req.dataset}'`,
    });
    const out: Record<string, number> = { ...req.bindings };
    for (const k of own) out[k] = req.bindings[k] ?? read[k] ?? bound[k]!;
    return out;
  }

  /**
   * The bindings to lay a publish out with before its bytes are read, or
   * undefined when its layout depends on a size the version does not hold
   * yet (the bytes will give it).
   */
  layoutBindings(
    settings: DatasetSettings,
    req: Omit<SizedPublish, "dataset" | "version">,
    known: Readonly<Record<string, number>>,
  ): Readonly<Record<string, number>> | undefined {
    const { own } = this.#own(settings, req.fragment);
    const out: Record<string, number> = { ...req.bindings };
    for (const k of own) {
      const n = req.bindings[k] ?? known[k];
      if (n === undefined) return undefined;
      out[k] = n;
    }
    return out;
  }

  /** The compiled description, and the sizes not given at creation that the layout depends on. */
  #own(settings: DatasetSettings, fragment: string): { ds: Dataset; own: string[] } {
    const text = settings.description ?? "";
    let ds = this.#compiled.get(text);
    if (ds === undefined) {
      ds = compileDescription(text);
      if (this.#compiled.size >= KEPT) this.#compiled.delete(this.#compiled.keys().next().value!);
      this.#compiled.set(text, ds);
    }
    const fixed = settings.sizes ?? {};
    const own = layoutSizeVariables(ds, fragment === "dataset" ? undefined : fragment)
      .filter((k) => fixed[k] === undefined);
    return { ds, own };
  }
}
