/**
 * One function Worker, seen from the host: a permission-less Worker with a
 * heap limit running the sandbox code, one request at a time, each with a
 * wall-time limit past which the Worker is terminated.
 *
 * @module
 */

import type { ModuleExports } from "./declaration.ts";
import { ARRAY_OF_TYPE, type FieldEntry } from "./fields.ts";
import type { Limits } from "./limits.ts";
import { sandboxMain } from "./_sandbox_main.ts";
import type { Relay, RelayedWorker } from "./relay.ts";

/** An error as the sandbox reports it. */
export interface SandboxError {
  /** The thrown error's name. */
  readonly name: string;
  /** Its message. */
  readonly message: string;
  /** The limit it crossed, when it is a limit. */
  readonly limit?: "memory" | "output";
}

/** One call's input within a buffer. */
export interface CallInput {
  /** The fields, offsets relative to `base`. */
  readonly fields: readonly FieldEntry[];
  /** Where this call's input starts in the buffer. */
  readonly base: number;
  /** The context's data fields. */
  readonly ctx: Readonly<Record<string, unknown>>;
}

/** A request to the sandbox. */
export type SandboxRequest =
  | {
    readonly t: "load";
    readonly source: string;
    readonly limits: Pick<Limits, "memoryBytes" | "outputBytes">;
  }
  | {
    readonly t: "run";
    readonly buffer: ArrayBuffer;
    readonly call: CallInput;
    readonly output: "value" | "arrays";
  }
  | { readonly t: "batch"; readonly buffer: ArrayBuffer; readonly calls: readonly CallInput[] }
  | { readonly t: "reduce"; readonly values: readonly string[] };

/** What a request came to. */
export type SandboxReply =
  | { readonly t: "loaded"; readonly exports: ModuleExports; readonly logs: string[] }
  | {
    readonly t: "done";
    readonly json?: string;
    readonly arrays?: Record<string, unknown>;
    readonly results?: readonly ({ json: string } | { error: SandboxError })[];
    readonly logs: string[];
  }
  | { readonly t: "error"; readonly error: SandboxError; readonly logs: string[] }
  | { readonly t: "timeout"; readonly ms: number }
  | { readonly t: "crashed"; readonly message: string };

const SOURCE = `import { workerData } from "node:worker_threads";
import { getHeapStatistics } from "node:v8";
(${sandboxMain.toString()})(
  workerData.port,
  workerData.pings,
  () => getHeapStatistics().heap_size_limit,
  ${JSON.stringify(ARRAY_OF_TYPE)},
);`;
const URL_OF_SOURCE = `data:application/javascript,${encodeURIComponent(SOURCE)}`;

/** The smallest heap a function Worker gets, in MiB: the sandbox and a module need some. */
const MIN_HEAP_MB = 32;

/**
 * The V8 heap limit of a Worker for a memory limit, in MiB: the limit
 * itself, at least 32 MiB.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { heapMbOf } from "./sandbox.ts";
 * assert.equal(heapMbOf(256 * 2 ** 20), 256);
 * assert.equal(heapMbOf(1), 32);
 * ```
 */
export function heapMbOf(memoryBytes: number): number {
  return Math.max(MIN_HEAP_MB, Math.ceil(memoryBytes / 2 ** 20));
}

type Outgoing = { message: SandboxRequest; transfer: Transferable[]; timeoutMs: number };

/**
 * A function Worker. It starts with no permissions at all (no files,
 * network, environment, subprocesses, FFI or imports from outside its own
 * source), a V8 heap limit, and the sandbox code, and loads one function
 * module. Requests made before it is up wait for it; their time limit runs
 * from when the Worker takes them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Relay } from "./relay.ts";
 * import { Sandbox } from "./sandbox.ts";
 * const relay = new Relay();
 * const sb = Sandbox.spawn(relay, 2 ** 28);
 * try {
 *   const source = "export const input = ''; export const output = 'value'; export function run() { return 42; }";
 *   const loaded = await sb.request({ t: "load", source, limits: { memoryBytes: 2 ** 28, outputBytes: 1024 } }, [], 5000);
 *   assert.equal(loaded.t, "loaded");
 *   const buffer = new ArrayBuffer(0);
 *   const r = await sb.request({ t: "run", buffer, call: { fields: [], base: 0, ctx: {} }, output: "value" }, [buffer], 5000);
 *   assert.deepEqual(r.t === "done" && r.json, "42");
 * } finally {
 *   sb.terminate();
 *   await relay.close();
 * }
 * ```
 */
export class Sandbox {
  readonly #worker: RelayedWorker;
  /** The heap limit the Worker runs under, in MiB. */
  readonly heapMb: number;
  #ready = false;
  #readied: (up: boolean) => void = () => {};
  /** Resolves once the Worker is up (true), or dead before it was (false). */
  readonly ready: Promise<boolean> = new Promise((resolve) => this.#readied = resolve);
  #waiting: Outgoing | undefined;
  #pending: ((reply: SandboxReply) => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the outstanding request's time runs out (performance.now()). */
  #deadline = 0;
  #timeoutMs = 0;
  /** When the armed timer fires (performance.now()). */
  #timerAt = 0;
  /** Requests sent so far: tells the request a time limit ran out for from a later one. */
  #sent = 0;
  #dead = false;

  private constructor(relay: Relay, memoryBytes: number) {
    this.heapMb = heapMbOf(memoryBytes);
    this.#worker = relay.start(URL_OF_SOURCE, this.heapMb);
    this.#worker.port.onmessage = (
      e: MessageEvent<SandboxReply | { t: "ready" } | { t: "out-of-heap" }>,
    ) => {
      if (e.data.t === "ready") this.#up();
      else if (e.data.t === "out-of-heap") {
        this.#settle(this.#outOfHeap());
        this.terminate();
      } else this.#settle(e.data);
    };
    this.#worker.port.onmessageerror = () => {
      this.#fail("a reply could not be read");
    };
    this.#worker.exited.then((exit) => {
      if (this.#dead) return;
      this.#dead = true;
      this.#disarm();
      this.#readied(false);
      if (exit.oom) this.#settle(this.#outOfHeap());
      else this.#fail(exit.message);
      this.#worker.kill();
    });
  }

  /**
   * Starts a Worker through `relay` with the sandbox code, no function
   * loaded, and a heap limit for `memoryBytes` (see `heapMbOf`).
   */
  static spawn(relay: Relay, memoryBytes: number): Sandbox {
    return new Sandbox(relay, memoryBytes);
  }

  /** Whether the Worker was terminated (a limit, a crash, or `terminate()`). */
  get dead(): boolean {
    return this.#dead;
  }

  /**
   * Sends one request and resolves with its reply: `timeout` when it ran past
   * `timeoutMs` (the Worker is then terminated), an `error` naming the memory
   * limit when V8 stopped the Worker at its heap limit, `crashed` when the
   * Worker died otherwise. Only one request may be outstanding.
   */
  request(
    message: SandboxRequest,
    transfer: Transferable[],
    timeoutMs: number,
  ): Promise<SandboxReply> {
    if (this.#dead) return Promise.resolve({ t: "crashed", message: "the Worker was terminated" });
    if (this.#pending !== undefined) {
      throw new Error("Sandbox.request() called while another request is outstanding");
    }
    return new Promise((resolve) => {
      this.#pending = resolve;
      const out = { message, transfer, timeoutMs };
      if (this.#ready) this.#send(out);
      else this.#waiting = out;
    });
  }

  /** Terminates the Worker; an outstanding request resolves as `crashed`. */
  terminate(): void {
    this.#disarm();
    if (!this.#dead) {
      this.#dead = true;
      this.#worker.kill();
    }
    this.#readied(false);
    this.#fail("the Worker was terminated");
  }

  #up(): void {
    this.#ready = true;
    this.#readied(true);
    const out = this.#waiting;
    this.#waiting = undefined;
    if (out !== undefined && this.#pending !== undefined) this.#send(out);
  }

  #send({ message, transfer, timeoutMs }: Outgoing): void {
    this.#sent++;
    this.#deadline = performance.now() + timeoutMs;
    this.#timeoutMs = timeoutMs;
    this.#arm(timeoutMs);
    try {
      this.#worker.port.postMessage(message, transfer);
    } catch (e) {
      this.#settle({ t: "crashed", message: (e as Error).message });
    }
  }

  /**
   * Makes sure the time-limit timer fires by `ms` from now. It stays armed
   * across requests and re-arms itself for what is left of the current one
   * when it fires early: warm calls, far shorter than their limit, set no
   * timer of their own. A timer due later than this request's limit is
   * replaced.
   */
  #arm(ms: number): void {
    const at = performance.now() + ms;
    if (this.#timer !== undefined) {
      if (this.#timerAt <= at) return;
      clearTimeout(this.#timer);
    }
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#pending === undefined || this.#dead) return;
      const left = this.#deadline - performance.now();
      if (left > 0) this.#arm(left);
      else this.#expire(this.#timeoutMs);
    }, ms);
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Past the time limit: a Worker V8 stopped at its heap limit is told apart from a slow one. */
  async #expire(timeoutMs: number): Promise<void> {
    const request = this.#sent;
    const state = await this.#worker.probe();
    // Answered while the probe ran (and perhaps followed by another request).
    if (this.#pending === undefined || this.#sent !== request) return;
    this.#settle(
      state === "out-of-heap" || state === "stopped"
        ? this.#outOfHeap()
        : { t: "timeout", ms: timeoutMs },
    );
    this.terminate();
  }

  #outOfHeap(): SandboxReply {
    return {
      t: "error",
      error: {
        name: "RangeError",
        limit: "memory",
        message:
          `the Worker's JavaScript heap reached its limit of ${this.heapMb} MiB and V8 stopped it; the Worker is replaced`,
      },
      logs: [],
    };
  }

  #fail(message: string): void {
    this.#settle({ t: "crashed", message });
  }

  #settle(reply: SandboxReply): void {
    const resolve = this.#pending;
    if (resolve === undefined) return;
    this.#pending = undefined;
    this.#waiting = undefined;
    resolve(reply);
  }
}
