/**
 * The relay: one permission-less Worker per pool that starts function
 * Workers with a heap limit and stops them. Deno gives a heap limit only to
 * `node:worker_threads` Workers, and such a Worker shares its parent's
 * permissions; started by the relay, which has none, it has none either.
 *
 * @module
 */

import { relayMain } from "./_relay_main.ts";

const RELAY_SOURCE =
  `import { Worker } from "node:worker_threads";\n(${relayMain.toString()})(Worker);`;
const RELAY_URL = `data:application/javascript,${encodeURIComponent(RELAY_SOURCE)}`;

/** How a started Worker ended, as the relay saw it. */
export interface WorkerExit {
  /** V8 stopped it at its heap limit. */
  readonly oom: boolean;
  /** What the relay was told. */
  readonly message: string;
}

/**
 * What a probe of a Worker found: still running (spinning or waiting), its
 * call stopped by V8 at the heap limit, stopped without a word, or gone.
 */
export type ProbeState = "running" | "out-of-heap" | "stopped" | "gone";

/** A function Worker started through the relay. */
export interface RelayedWorker {
  /** The host's end of the Worker's message port. */
  readonly port: MessagePort;
  /** Settles when the Worker ends by itself (not when it is killed). */
  readonly exited: Promise<WorkerExit>;
  /** Whether the Worker is still running, out of heap, stopped, or gone. */
  probe(): Promise<ProbeState>;
  /** Stops the Worker. */
  kill(): void;
}

/** How long `close()` waits for the relay to stop its Workers. */
const CLOSE_WAIT_MS = 5_000;

type RelayMessage =
  | { t: "up" }
  | { t: "closed" }
  | { t: "exit"; id: number; oom: boolean; message: string }
  | { t: "probed"; id: number; state: ProbeState };

/**
 * Starts function Workers with a heap limit, each talking to the host over
 * its own `MessagePort`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Relay } from "./relay.ts";
 * const relay = new Relay();
 * try {
 *   const source = 'import { workerData } from "node:worker_threads"; workerData.port.postMessage(2 + 2);';
 *   const w = relay.start(`data:application/javascript,${encodeURIComponent(source)}`, 64);
 *   const answer = await new Promise((resolve) => w.port.onmessage = (e) => resolve(e.data));
 *   assert.equal(answer, 4);
 *   w.kill();
 * } finally {
 *   await relay.close();
 * }
 * ```
 */
export class Relay {
  readonly #worker: Worker;
  readonly #exits = new Map<number, (exit: WorkerExit) => void>();
  readonly #probes = new Map<number, ((state: ProbeState) => void)[]>();
  #next = 1;
  #closed = false;
  #stopped = false;
  #done: Promise<void> | undefined;
  #finish: () => void = () => {};

  /** Starts the relay Worker. */
  constructor() {
    this.#worker = new Worker(RELAY_URL, {
      type: "module",
      name: "strata-function-relay",
      deno: { permissions: "none" },
    });
    this.#worker.onmessage = (e: MessageEvent<RelayMessage>) => this.#receive(e.data);
    this.#worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#stopped = true;
      this.#failAll(`the function relay stopped: ${e.message}`);
      this.#finish();
    };
  }

  /**
   * Starts a Worker on the module at `url` with a heap of `heapMb` MiB. The
   * module receives its port as `workerData.port`.
   */
  start(url: string, heapMb: number): RelayedWorker {
    const id = this.#next++;
    const channel = new MessageChannel();
    let resolveExit: (exit: WorkerExit) => void = () => {};
    const exited = new Promise<WorkerExit>((resolve) => resolveExit = resolve);
    if (this.#closed || this.#stopped) {
      resolveExit({ oom: false, message: "the function relay is closed" });
    } else {
      this.#exits.set(id, resolveExit);
      this.#worker.postMessage({ t: "spawn", id, url, heapMb, port: channel.port2 }, [
        channel.port2,
      ]);
    }
    return {
      port: channel.port1,
      exited,
      probe: () => {
        if (this.#closed || !this.#exits.has(id)) return Promise.resolve("gone");
        return new Promise((resolve) => {
          const waiting = this.#probes.get(id) ?? [];
          waiting.push(resolve);
          this.#probes.set(id, waiting);
          if (waiting.length === 1) this.#worker.postMessage({ t: "probe", id });
        });
      },
      kill: () => {
        channel.port1.close();
        if (!this.#exits.delete(id) || this.#closed) return;
        this.#worker.postMessage({ t: "kill", id });
        this.#answerProbes(id, "gone");
      },
    };
  }

  /**
   * Stops every Worker the relay started, then the relay. Resolves once they
   * are all stopped (a Worker's own Workers outlive its termination, so the
   * relay stops them first).
   */
  close(): Promise<void> {
    if (this.#done !== undefined) return this.#done;
    this.#closed = true;
    this.#failAll("the function relay was closed");
    this.#done = new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.#finish(), CLOSE_WAIT_MS);
      this.#finish = () => {
        clearTimeout(timer);
        this.#worker.terminate();
        resolve();
      };
    });
    if (this.#stopped) this.#finish();
    else this.#worker.postMessage({ t: "close" });
    return this.#done;
  }

  #receive(m: RelayMessage): void {
    switch (m.t) {
      case "exit": {
        const resolve = this.#exits.get(m.id);
        this.#exits.delete(m.id);
        resolve?.({ oom: m.oom, message: m.message });
        this.#answerProbes(m.id, "gone");
        return;
      }
      case "probed":
        this.#answerProbes(m.id, m.state);
        return;
      case "closed":
        this.#finish();
        return;
    }
  }

  #answerProbes(id: number, state: ProbeState): void {
    const waiting = this.#probes.get(id);
    this.#probes.delete(id);
    for (const resolve of waiting ?? []) resolve(state);
  }

  #failAll(message: string): void {
    for (const resolve of this.#exits.values()) resolve({ oom: false, message });
    this.#exits.clear();
    for (const id of [...this.#probes.keys()]) this.#answerProbes(id, "gone");
  }
}
