// deno-lint-ignore-file no-explicit-any
/**
 * The code of the relay Worker: a permission-less Worker that starts the
 * function Workers (`node:worker_threads` Workers, the only kind Deno gives
 * a heap limit) and stops them on request. A Worker started by a Worker
 * inherits its permissions, so function Workers inherit none. The host talks
 * to each function Worker over its own `MessagePort`; the relay only starts,
 * probes and stops them. It becomes the Worker's source through
 * `Function.prototype.toString`, so it refers to nothing outside its body.
 *
 * @module
 */

/** Runs inside the relay Worker, given `node:worker_threads`' `Worker`. */
export function relayMain(NodeWorker: any): void {
  const g = globalThis as any;
  const workers = new Map<number, any>();
  const post = (message: unknown) => g.postMessage(message);

  function spawn(m: any): void {
    // A port of its own for pings: the Worker's global messaging is the
    // sandbox's to lock.
    const pings = new MessageChannel();
    const w = new NodeWorker(new URL(m.url), {
      workerData: { port: m.port, pings: pings.port2 },
      transferList: [m.port, pings.port2],
      resourceLimits: { maxOldGenerationSizeMb: m.heapMb },
    });
    w.pings = pings.port1;
    workers.set(m.id, w);
    w.on("error", (e: any) => {
      post({
        t: "exit",
        id: m.id,
        oom: e?.code === "ERR_WORKER_OUT_OF_MEMORY",
        message: String(e?.message ?? e),
      });
    });
    w.on("exit", (code: number) => {
      workers.delete(m.id);
      w.pings.close();
      post({ t: "exit", id: m.id, oom: false, message: `exit code ${code}` });
    });
  }

  // A Worker whose call V8 stopped at the heap limit answers that its heap
  // limit was raised (V8 raises it to unwind); one that spins uses CPU and
  // does not answer; one that waits on a promise answers; one that neither
  // answers nor uses CPU has stopped.
  async function probe(id: number): Promise<"running" | "out-of-heap" | "stopped" | "gone"> {
    const w = workers.get(id);
    if (w === undefined) return "gone";
    const before = await w.cpuUsage();
    const answer = await new Promise<unknown>((resolve) => {
      const timer = setTimeout(() => {
        w.pings.onmessage = null;
        resolve(undefined);
      }, 50);
      w.pings.onmessage = (e: any) => {
        clearTimeout(timer);
        w.pings.onmessage = null;
        resolve(e.data);
      };
      w.pings.postMessage("ping");
    });
    if (answer === "out-of-heap") return "out-of-heap";
    if (answer !== undefined) return "running";
    const after = await w.cpuUsage();
    return after.user + after.system > before.user + before.system ? "running" : "stopped";
  }

  g.onmessage = async (e: any) => {
    const m = e.data;
    switch (m.t) {
      case "spawn":
        try {
          spawn(m);
        } catch (err) {
          post({
            t: "exit",
            id: m.id,
            oom: false,
            message: String((err as Error)?.message ?? err),
          });
        }
        return;
      case "probe":
        post({ t: "probed", id: m.id, state: await probe(m.id) });
        return;
      case "kill": {
        const w = workers.get(m.id);
        workers.delete(m.id);
        if (w !== undefined) {
          w.pings.close();
          await w.terminate();
        }
        return;
      }
      case "close": {
        // A Worker's own Workers outlive its termination: stop them first.
        const all = [...workers.values()];
        workers.clear();
        await Promise.all(all.map((w) => (w.pings.close(), w.terminate())));
        post({ t: "closed" });
        return;
      }
    }
  };
  post({ t: "up" });
}
