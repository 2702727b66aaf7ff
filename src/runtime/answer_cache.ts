/**
 * Small attach answers kept in memory: the bytes of a region of a committed
 * version never change, so once gathered, checked and reshaped they serve
 * every later attach of the same region without reading a tier again.
 *
 * @module
 */

import type { FragmentLayout } from "../transform/layout.ts";

/** An attach answer shared by every caller: its bytes are never written to. */
export interface SharedAnswer {
  /** The version served. */
  readonly version: number;
  /** The fragment region's layout. */
  readonly layout: FragmentLayout;
  /** The bytes, in `layout`; read-only by contract. */
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** `layout` as JSON, built once (the `strata-layout` header). */
  readonly layoutJson: string;
}

/** Options of an `AnswerCache`. */
export interface AnswerCacheOptions {
  /** Largest answer kept, in bytes. Default 64 KiB. */
  readonly maxAnswerBytes?: number;
  /** Most bytes of answers kept. Default 16 MiB. */
  readonly maxBytes?: number;
  /** Most answers kept. Default 4096. */
  readonly maxAnswers?: number;
}

/** What identifies an answer: a region of a committed version of one dataset's incarnation. */
export interface AnswerKey {
  /** Dataset name. */
  readonly dataset: string;
  /** Its creation time: a dataset deleted and created again under the name is another. */
  readonly createdAt: number;
  /** Committed version. */
  readonly version: number;
  /** Fragment name. */
  readonly fragment: string;
  /** Fragment parameters and sizes, as the request gave them. */
  readonly bindings: Readonly<Record<string, number>>;
}

/**
 * A bounded cache of small attach answers of committed versions, oldest
 * dropped first. Only what identifies the bytes is in the key; the caller
 * looks the version up first (still committed, still kept, same dataset),
 * so a retired version or a replaced dataset is never served from here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AnswerCache } from "./answer_cache.ts";
 * const cache = new AnswerCache({ maxAnswers: 1 });
 * const layout = { byteLength: 4, slots: [] };
 * const key = { dataset: "t", createdAt: 1, version: 3, fragment: "dataset", bindings: {} };
 * cache.put(key, { version: 3, layout, bytes: new Uint8Array(4), layoutJson: "{}" });
 * assert.equal(cache.get(key)?.version, 3);
 * cache.drop("t", 3);
 * assert.equal(cache.get(key), undefined);
 * ```
 */
export class AnswerCache {
  readonly #maxAnswerBytes: number;
  readonly #maxBytes: number;
  readonly #maxAnswers: number;
  readonly #answers = new Map<string, { answer: SharedAnswer; version: string }>();
  /** Keys by `dataset/version`, to drop a version's answers when its copies are freed. */
  readonly #byVersion = new Map<string, Set<string>>();
  #bytes = 0;

  /** An empty cache. */
  constructor(options: AnswerCacheOptions = {}) {
    this.#maxAnswerBytes = options.maxAnswerBytes ?? 64 * 1024;
    this.#maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
    this.#maxAnswers = options.maxAnswers ?? 4096;
  }

  /** Answers kept. */
  get size(): number {
    return this.#answers.size;
  }

  /** Whether an answer of `byteLength` bytes would be kept. */
  keeps(byteLength: number): boolean {
    return byteLength <= this.#maxAnswerBytes && byteLength <= this.#maxBytes;
  }

  /** The answer kept for `key`, if any. */
  get(key: AnswerKey): SharedAnswer | undefined {
    return this.#answers.get(keyText(key))?.answer;
  }

  /** Keeps `answer` for `key` when it is small enough, dropping the oldest past the bounds. */
  put(key: AnswerKey, answer: SharedAnswer): void {
    if (!this.keeps(answer.bytes.byteLength)) return;
    const text = keyText(key);
    if (this.#answers.has(text)) return;
    const version = `${key.dataset}\0${key.version}`;
    this.#answers.set(text, { answer, version });
    this.#bytes += answer.bytes.byteLength;
    let keys = this.#byVersion.get(version);
    if (keys === undefined) this.#byVersion.set(version, keys = new Set());
    keys.add(text);
    while (this.#answers.size > this.#maxAnswers || this.#bytes > this.#maxBytes) {
      this.#remove(this.#answers.keys().next().value!);
    }
  }

  /** Drops the answers of a version (its copies were freed: retired or deleted). */
  drop(dataset: string, version: number): void {
    const keys = this.#byVersion.get(`${dataset}\0${version}`);
    if (keys !== undefined) { for (const k of [...keys]) this.#remove(k); }
  }

  #remove(text: string): void {
    const e = this.#answers.get(text);
    if (e === undefined) return;
    this.#answers.delete(text);
    this.#bytes -= e.answer.bytes.byteLength;
    const keys = this.#byVersion.get(e.version);
    keys?.delete(text);
    if (keys?.size === 0) this.#byVersion.delete(e.version);
  }
}

function keyText(k: AnswerKey): string {
  let s = `${k.dataset}\0${k.createdAt}\0${k.version}\0${k.fragment}`;
  for (const name in k.bindings) s += `\0${name}=${k.bindings[name]}`;
  return s;
}
