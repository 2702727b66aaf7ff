/**
 * One sandbox process, seen from the service: `deno run` with no
 * permissions, a V8 heap limit and an OS memory limit (launcher.ts),
 * answering one request at a time over its standard input and output
 * (frames.ts), each request with a wall-time limit past which the process
 * is killed.
 *
 * @module
 */

import type { ModuleExports } from "./declaration.ts";
import { ARRAY_OF_TYPE, type FieldEntry } from "./fields.ts";
import { encodeHead, unpackArrays } from "./frames.ts";
import type { Launched, Launcher } from "./launcher.ts";
import type { Limits } from "./limits.ts";
import { FrameReader, OversizedFrame } from "./_frame_reader.ts";

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
  | {
    readonly t: "timeout";
    readonly ms: number;
    /** The niceness its process ran at: above 0, it may have waited for cores. */
    readonly nice?: number;
  }
  | { readonly t: "crashed"; readonly message: string };

/** The smallest heap a sandbox process gets, in MiB: the sandbox and a module need some. */
const MIN_HEAP_MB = 32;

/**
 * The V8 heap limit of a sandbox process for a memory limit, in MiB: the limit
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

/** How long a sandbox process may take to start and say it is up, in ms. */
const START_DEADLINE_MS = 30_000;
/** Reply header bytes allowed beyond a request's output limit (logs, errors, exports). */
const HEADER_SLACK_BYTES = 1024 * 1024;
/** Requests up to this size are written in one piece. */
const ONE_WRITE_BYTES = 64 * 1024;
/** How much of a process's standard error is kept to explain its death. */
const STDERR_HEAD_BYTES = 4096;

type Outgoing = {
  header: Record<string, unknown>;
  payload: Uint8Array | undefined;
  timeoutMs: number;
  calls: number;
};

/**
 * A sandbox process. It starts with no permissions at all (no files,
 * network, environment, subprocesses, FFI, signals to other processes, or
 * imports from outside its own source), a V8 heap limit and an OS memory
 * limit, and loads one function module. Requests made before it is up wait
 * for it; their time limit runs from when the process takes them. Every
 * reply is checked: it must answer the request under way, within the
 * output limit, in well-formed frames; anything else kills the process.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Launcher } from "./launcher.ts";
 * import { Sandbox } from "./sandbox.ts";
 * const launcher = new Launcher();
 * const sb = Sandbox.spawn(launcher, 2 ** 28);
 * try {
 *   const source = "export const input = ''; export const output = 'value'; export function run() { return 42; }";
 *   const loaded = await sb.request({ t: "load", source, limits: { memoryBytes: 2 ** 28, outputBytes: 1024 } }, [], 10_000);
 *   assert.equal(loaded.t, "loaded");
 *   const buffer = new ArrayBuffer(0);
 *   const r = await sb.request({ t: "run", buffer, call: { fields: [], base: 0, ctx: {} }, output: "value" }, [buffer], 5000);
 *   assert.deepEqual(r.t === "done" && r.json, "42");
 * } finally {
 *   await sb.terminate();
 *   await launcher.close();
 * }
 * ```
 */
export class Sandbox {
  readonly #launcher: Launcher;
  /** The heap limit the process runs under, in MiB. */
  readonly heapMb: number;
  readonly #memoryBytes: number;
  #launched: Launched | undefined;
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #ready = false;
  #readied: (up: boolean) => void = () => {};
  /** Resolves once the process is up (true), or dead before it was (false). */
  readonly ready: Promise<boolean> = new Promise((resolve) => this.#readied = resolve);
  /** Resolves once the process has exited. */
  readonly exited: Promise<void>;
  #markExited: () => void = () => {};
  #waiting: Outgoing | undefined;
  #pending: ((reply: SandboxReply) => void) | undefined;
  /** The id of the request under way: a reply must carry it. */
  #id = 0;
  #maxHeader = HEADER_SLACK_BYTES;
  #maxPayload = 0;
  #outputBytes = Number.POSITIVE_INFINITY;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the outstanding request's time runs out (performance.now()). */
  #deadline = 0;
  #timeoutMs = 0;
  /** When the armed timer fires (performance.now()). */
  #timerAt = 0;
  #dead = false;
  /** Why the service killed the process, when it did. */
  #killedFor: string | undefined;
  #stderrHead = "";

  private constructor(launcher: Launcher, memoryBytes: number) {
    this.#launcher = launcher;
    this.heapMb = heapMbOf(memoryBytes);
    this.#memoryBytes = memoryBytes;
    this.exited = new Promise((resolve) => this.#markExited = resolve);
    this.#start(memoryBytes).catch((e) => {
      this.#dead = true;
      this.#readied(false);
      this.#fail(`it could not be started: ${(e as Error).message}`);
      this.#markExited();
    });
  }

  /**
   * Starts a sandbox process through `launcher`, no function loaded, with a
   * heap limit for `memoryBytes` (see `heapMbOf`) and an OS memory limit.
   */
  static spawn(launcher: Launcher, memoryBytes: number): Sandbox {
    return new Sandbox(launcher, memoryBytes);
  }

  /** Whether the process was killed or died (a limit, a crash, or `terminate()`). */
  get dead(): boolean {
    return this.#dead;
  }

  /** The process id, once started. */
  get pid(): number | undefined {
    return this.#launched?.child.pid;
  }

  /**
   * Sends one request and resolves with its reply: `timeout` when it ran past
   * `timeoutMs` (the process is then killed), an `error` naming the memory
   * limit when the OS or V8 stopped the process at its limit, `crashed` when
   * the process died otherwise or broke the protocol. Only one request may
   * be outstanding.
   */
  request(
    message: SandboxRequest,
    _transfer: Transferable[],
    timeoutMs: number,
  ): Promise<SandboxReply> {
    if (this.#dead) {
      return Promise.resolve({ t: "crashed", message: this.#killedFor ?? "the process is gone" });
    }
    if (this.#pending !== undefined) {
      throw new Error("Sandbox.request() called while another request is outstanding");
    }
    return new Promise((resolve) => {
      this.#pending = resolve;
      const out = outgoing(message, timeoutMs);
      if (this.#ready) this.#send(out);
      else this.#waiting = out;
    });
  }

  /**
   * Kills the process (SIGKILL); an outstanding request resolves as
   * `crashed`. Resolves once the process has exited.
   */
  terminate(): Promise<void> {
    this.#kill("the process was terminated");
    this.#readied(false);
    return this.exited;
  }

  async #start(memoryBytes: number): Promise<void> {
    const launched = await this.#launcher.launch(this.heapMb, memoryBytes);
    this.#launched = launched;
    if (this.#dead) {
      this.#signal();
    }
    this.#writer = launched.child.stdin.getWriter();
    this.#writer.closed.catch(() => {});
    this.#drainStderr(launched.child.stderr);
    const startTimer = setTimeout(() => {
      if (!this.#ready) this.#kill(`it did not start within ${START_DEADLINE_MS} ms`);
    }, START_DEADLINE_MS);
    this.#readLoop(FrameReader.fromStream(launched.child.stdout)).finally(() =>
      clearTimeout(startTimer)
    );
    const status = await launched.child.status;
    clearTimeout(startTimer);
    this.#disarm();
    const wasDead = this.#dead;
    this.#dead = true;
    this.#readied(false);
    if (this.#pending !== undefined && !wasDead) this.#settle(await this.#exitReply(status));
    else {
      this.#settle(this.#killedReply());
      if (launched.cgroup !== undefined) this.#launcher.forget(launched.cgroup);
    }
    this.#markExited();
  }

  async #readLoop(reader: FrameReader): Promise<void> {
    try {
      for (;;) {
        const frame = await reader.next(this.#maxHeader, this.#maxPayload);
        if (frame === null) return;
        this.#receive(frame.header, frame.payload);
        if (this.#dead) return;
      }
    } catch (e) {
      if (this.#dead) return;
      if (e instanceof OversizedFrame) {
        const bytes = e.headerBytes + e.payloadBytes;
        this.#settle({
          t: "error",
          error: {
            name: "RangeError",
            limit: "output",
            message: `the reply takes ${bytes} bytes, over the limit of ${this.#outputBytes}`,
          },
          logs: [],
        });
        this.#kill("its reply was over the output limit");
      } else this.#violation((e as Error).message);
    } finally {
      reader.cancel();
    }
  }

  #receive(text: string, payload: Uint8Array): void {
    let h: Record<string, unknown>;
    try {
      h = JSON.parse(text);
    } catch {
      return this.#violation("a reply header is not JSON");
    }
    if (typeof h !== "object" || h === null) {
      return this.#violation("a reply header is not an object");
    }
    if (!this.#ready) {
      if (h.t !== "ready" || h.id !== 0) return this.#violation("it spoke before it was up");
      return this.#up();
    }
    if (this.#pending === undefined) {
      return this.#violation("a reply came with no request under way");
    }
    if (h.id !== this.#id) {
      return this.#violation(
        `a reply named request ${String(h.id)} while ${this.#id} was under way`,
      );
    }
    const logs = Array.isArray(h.logs) ? h.logs.filter((l) => typeof l === "string") : [];
    switch (h.t) {
      case "loaded":
        return this.#settle({ t: "loaded", exports: h.exports as ModuleExports, logs });
      case "error": {
        const e = h.error as Record<string, unknown> | undefined;
        const error: SandboxError = {
          name: typeof e?.name === "string" ? e.name : "Error",
          message: typeof e?.message === "string" ? e.message : "an unknown error",
          ...(e?.limit === "output" || e?.limit === "memory" ? { limit: e.limit } : {}),
        };
        return this.#settle({ t: "error", error, logs });
      }
      case "done": {
        if (h.arrays !== undefined) {
          let arrays: Record<string, unknown>;
          try {
            arrays = unpackArrays(h.arrays as [], payload);
          } catch (e) {
            return this.#violation((e as Error).message);
          }
          return this.#settle({ t: "done", arrays, logs });
        }
        if (Array.isArray(h.results)) {
          return this.#settle({ t: "done", results: h.results, logs });
        }
        if (typeof h.json !== "string") return this.#violation("a reply holds no result");
        return this.#settle({ t: "done", json: h.json, logs });
      }
      default:
        return this.#violation(`a reply of unknown kind ${JSON.stringify(h.t)}`);
    }
  }

  #violation(what: string): void {
    this.#fail(`its process broke the reply protocol (${what}) and was killed`);
    this.#kill(`it broke the reply protocol (${what})`);
  }

  #up(): void {
    this.#ready = true;
    this.#readied(true);
    const out = this.#waiting;
    this.#waiting = undefined;
    if (out !== undefined && this.#pending !== undefined) this.#send(out);
  }

  #send(out: Outgoing): void {
    const id = ++this.#id;
    if (out.header.t === "load") {
      const limits = out.header.limits as Pick<Limits, "outputBytes">;
      this.#outputBytes = limits.outputBytes;
    }
    const output = Number.isFinite(this.#outputBytes) ? this.#outputBytes : 0;
    this.#maxPayload = output + 8 * 1024;
    this.#maxHeader = output * out.calls + HEADER_SLACK_BYTES;
    this.#deadline = performance.now() + out.timeoutMs;
    this.#timeoutMs = out.timeoutMs;
    this.#arm(out.timeoutMs);
    const writer = this.#writer!;
    const payload = out.payload;
    const head = encodeHead({ ...out.header, id }, payload?.byteLength ?? 0);
    if (payload === undefined || payload.byteLength === 0) {
      writer.write(head).catch(() => {});
    } else if (head.byteLength + payload.byteLength <= ONE_WRITE_BYTES) {
      // Small requests leave in one write: one system call, one async op.
      const one = new Uint8Array(head.byteLength + payload.byteLength);
      one.set(head);
      one.set(payload, head.byteLength);
      writer.write(one).catch(() => {});
    } else {
      writer.write(head).catch(() => {});
      writer.write(payload).catch(() => {});
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
      else {
        this.#settle({ t: "timeout", ms: this.#timeoutMs, nice: this.#launched?.nice ?? 0 });
        this.#kill(`it ran past its time limit of ${this.#timeoutMs} ms`);
      }
    }, ms);
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #kill(why: string): void {
    this.#disarm();
    if (this.#dead) return;
    this.#dead = true;
    this.#killedFor = `the process was killed: ${why}`;
    this.#signal();
  }

  #signal(): void {
    try {
      this.#launched?.child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
  }

  #killedReply(): SandboxReply {
    return { t: "crashed", message: this.#killedFor ?? "the process was killed" };
  }

  /** What a death the service did not cause means: a memory limit, a crash, or an exit. */
  async #exitReply(status: Deno.CommandStatus): Promise<SandboxReply> {
    const launched = this.#launched!;
    const oomByV8 =
      /Fatal JavaScript out of memory|heap out of memory|Fatal process out of memory|invalid table size|Fatal JavaScript invalid size/i
        .test(this.#stderrHead);
    const oomByCgroup = launched.cgroup !== undefined &&
      await this.#launcher.reap(launched.cgroup) && status.signal === "SIGKILL";
    if (oomByV8 || oomByCgroup) {
      const limit = oomByCgroup
        ? `its ${launched.mode} memory limit of ${launched.limitBytes} bytes (the function's ${this.#memoryBytes} plus ${
          launched.limitBytes - this.#memoryBytes
        } for Deno itself); the kernel killed it`
        : `its JavaScript heap limit of ${this.heapMb} MiB; V8 stopped it`;
      return {
        t: "error",
        error: {
          name: "RangeError",
          limit: "memory",
          message: `the sandbox process reached ${limit}; it is replaced`,
        },
        logs: [],
      };
    }
    const last = this.#stderrHead.split("\n").find((l) => /\S/.test(l) && !l.startsWith("<"))
      ?.trim().slice(0, 300);
    const how = status.signal !== null
      ? `its process was killed by ${status.signal}`
      : `its process exited with code ${status.code}`;
    return { t: "crashed", message: last ? `${how}: ${last}` : how };
  }

  async #drainStderr(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream) {
        const text = decoder.decode(chunk, { stream: true });
        // The first lines name a fatal error; a native stack trace follows.
        if (this.#stderrHead.length < STDERR_HEAD_BYTES) {
          this.#stderrHead = (this.#stderrHead + text).slice(0, STDERR_HEAD_BYTES);
        }
      }
    } catch {
      // The process is gone.
    }
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

/** A request as header and payload: array bytes travel as the payload. */
function outgoing(message: SandboxRequest, timeoutMs: number): Outgoing {
  switch (message.t) {
    case "load":
      return {
        header: { t: "load", source: message.source, limits: message.limits, types: ARRAY_OF_TYPE },
        payload: undefined,
        timeoutMs,
        calls: 1,
      };
    case "run":
      return {
        header: { t: "run", call: message.call, output: message.output },
        payload: new Uint8Array(message.buffer),
        timeoutMs,
        calls: 1,
      };
    case "batch":
      return {
        header: { t: "batch", calls: message.calls },
        payload: new Uint8Array(message.buffer),
        timeoutMs,
        calls: message.calls.length,
      };
    case "reduce":
      return {
        header: { t: "reduce", values: message.values },
        payload: undefined,
        timeoutMs,
        calls: message.values.length,
      };
  }
}
