/**
 * The route template of a request (`/channels/{channel_id}/messages`), for the request log line
 * and the metrics' `path` label: bounded cardinality, no ids, no query string.
 */
import type { Context } from "hono";
import { matchedRoutes } from "hono/route";
import { UNMATCHED_ROUTE } from "./metrics";

/** Hono's `:name` (and `:name{regex}`) written as the API documents write it: `{name}`. */
export const toTemplate = (path: string) => path.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, "{$1}");

/**
 * The endpoint that answered: the route at the current handler index when it is an endpoint
 * (a concrete method), else the first endpoint that matched (a middleware answered before it,
 * e.g. a rate limit), else UNMATCHED_ROUTE (404, 405).
 */
export function routeTemplate(c: Context): string {
  const routes = matchedRoutes(c);
  const current = routes[c.req.routeIndex];
  const endpoint = current && current.method !== "ALL" ? current : routes.find((r) => r.method !== "ALL");
  return endpoint ? toTemplate(endpoint.path) : UNMATCHED_ROUTE;
}
