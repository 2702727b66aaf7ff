/**
 * Routes about nodes: `GET /v1/nodes`, each node's tiers, usage and
 * fragment counts.
 *
 * @module
 */

import type { Hono } from "hono";
import type { Runtime } from "../runtime/runtime.ts";
import { tierReport } from "../tiers/report.ts";
import { reply } from "./negotiate.ts";

/** What the node routes need. */
export interface NodeRouteOptions {
  /** This node's runtime, when this server runs one: its tiers' live usage. */
  readonly runtime?: Runtime | undefined;
  /** The nodes of the cluster, with their leases (name servers and runtimes of one). */
  readonly cluster?: (() => Promise<readonly { readonly id: string }[]>) | undefined;
}

/**
 * Mounts `GET /v1/nodes` on `app`: the nodes this server knows, each with
 * its lease state (when there is a cluster) and, for the node this server
 * runs, its tiers' live capacity, usage and fragment counts (`tierReport`).
 * Other nodes show their tiers as their lease last reported them (usage as of
 * the last renewal).
 *
 * @example
 * ```ts ignore
 * import { Hono } from "hono";
 * import { mountNodeRoutes } from "./node_routes.ts";
 * mountNodeRoutes(new Hono(), { runtime });
 * ```
 */
export function mountNodeRoutes(app: Hono, o: NodeRouteOptions): void {
  app.get("/v1/nodes", async (c) => {
    const nodes: Record<string, unknown>[] = o.cluster === undefined
      ? []
      : (await o.cluster()).map((n) => ({ ...n }));
    if (o.runtime !== undefined) {
      const report = tierReport(o.runtime.tiers);
      const own = nodes.findIndex((n) => n.id === report.node);
      if (own >= 0) nodes[own] = { ...nodes[own], ...report };
      else nodes.push({ id: report.node, state: "up", ...report });
    }
    return reply(c, { nodes });
  });
}
