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
  /** This node's runtime. */
  readonly runtime: Runtime;
}

/**
 * Mounts `GET /v1/nodes` on `app`: the nodes this server knows (under
 * `strata serve`, its own) with their tiers.
 *
 * @example
 * ```ts ignore
 * import { Hono } from "hono";
 * import { mountNodeRoutes } from "./node_routes.ts";
 * mountNodeRoutes(new Hono(), { runtime });
 * ```
 */
export function mountNodeRoutes(app: Hono, o: NodeRouteOptions): void {
  app.get("/v1/nodes", (c) => reply(c, { nodes: [tierReport(o.runtime.tiers)] }));
}
