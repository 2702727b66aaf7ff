/**
 * One function Worker, seen from the host: a permission-less Worker running
 * the sandbox code, one request at a time, each with a wall-time limit past
 * which the Worker is terminated.
 *
 * @module
 */

import type { ModuleExports } from "./declaration.ts";
import type { FieldEntry } from "./fields.ts";
import type { Limits } from "./limits.ts";
import { sandboxMain } from "./_sandbox_main.ts";

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

const SOURCE = `(${sandboxMain.toString()})();`;
const URL_OF_SOURCE = `data:application/javascript,${encodeURIComponent(SOURCE)}`;

/**
 * A function Worker. It starts with no permissions at all (no files,
 * network, environment, subprocesses, FFI or imports from outside its own
 * source) and the sandbox code, and loads one function module.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Sandbox } from "./sandbox.ts";
 * const sb = Sandbox.spawn();
 * try {
 *   const source = "export const input = ''; export const output = 'value'; export function run() { return 42; }";
 *   const loaded = await sb.request({ t: "load", source, limits: { memoryBytes: 2 ** 28, outputBytes: 1024 } }, [], 5000);
 *   assert.equal(loaded.t, "loaded");
 *   const buffer = new ArrayBuffer(0);
 *   const r = await sb.request({ t: "run", buffer, call: { fields: [], base: 0, ctx: {} }, output: "value" }, [buffer], 5000);
 *   assert.deepEqual(r.t === "done" && r.json, "42");
 * } finally {
 *   sb.terminate();
 * }
 * ```
 */
export class Sandbox {
  readonly #worker: Worker;
  #pending: ((reply: SandboxReply) => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #dead = false;

  private constructor() {
    this.#worker = new Worker(URL_OF_SOURCE, {
      type: "module",
      name: "strata-function",
      deno: { permissions: "none" },
    });
    this.#worker.onmessage = (e: MessageEvent<SandboxReply>) => this.#settle(e.data);
    this.#worker.onmessageerror = () => {
      this.#fail("a reply could not be read");
    };
    this.#worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#fail(e.message);
      this.terminate();
    };
  }

  /** Starts a Worker with the sandbox code and no function loaded. */
  static spawn(): Sandbox {
    return new Sandbox();
  }

  /** Whether the Worker was terminated (a limit, a crash, or `terminate()`). */
  get dead(): boolean {
    return this.#dead;
  }

  /**
   * Sends one request and resolves with its reply; `timeout` when it ran past
   * `timeoutMs` (the Worker is then terminated), `crashed` when the Worker
   * died. Only one request may be outstanding.
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
      this.#timer = setTimeout(() => {
        this.#settle({ t: "timeout", ms: timeoutMs });
        this.terminate();
      }, timeoutMs);
      try {
        this.#worker.postMessage(message, transfer);
      } catch (e) {
        this.#settle({ t: "crashed", message: (e as Error).message });
      }
    });
  }

  /** Terminates the Worker; an outstanding request resolves as `crashed`. */
  terminate(): void {
    if (!this.#dead) {
      this.#dead = true;
      this.#worker.terminate();
    }
    this.#fail("the Worker was terminated");
  }

  #fail(message: string): void {
    this.#settle({ t: "crashed", message });
  }

  #settle(reply: SandboxReply): void {
    const resolve = this.#pending;
    if (resolve === undefined) return;
    this.#pending = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    resolve(reply);
  }
}
