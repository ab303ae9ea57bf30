/**
 * The typed client for the web app: Hono's RPC client (`hono/client`) typed with this API's
 * routes, their inputs (path, query, JSON body) and their success bodies.
 *
 *   import { createClient } from "<api>/src/client";
 *   const api = createClient("https://api.example", { headers: () => ({ Authorization: `Bearer ${token}` }) });
 *   const res = await api.workspaces[":workspace_id"].channels.$get({ param: { workspace_id: "1" }, query: {} });
 *   if (res.ok) for (const channel of await res.json()) channel.unread_count;
 *
 * Only the type of the app is imported (`import type`), so bundling this module pulls in
 * hono/client and nothing of the Worker. Error bodies are not in the types: a non-2xx answer is
 * `{"detail": string}`, or the 422 list (see /openapi.json).
 */
import { hc } from "hono/client";
import type { App } from "./app";

/** The app's routes, for `hc<AppType>(baseUrl)`. */
export type AppType = App;

/** The client's type, computed once here rather than in every file of the web app that uses it. */
export type ApiClient = ReturnType<typeof hc<AppType>>;

/** `hc<AppType>` with its type precomputed: same arguments as `hc`. */
export const createClient = (...args: Parameters<typeof hc>): ApiClient => hc<AppType>(...args);
