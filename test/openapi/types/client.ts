/**
 * Type-level test of the typed client (src/client.ts): nothing here runs; `npm run typecheck`
 * fails when the client stops knowing a route, its inputs, or its success body. This folder is
 * compiled with the Worker's tsconfig.json (its types are the Worker's), not tsconfig.node.json.
 *
 * Success bodies are compared with the OpenAPI response schemas (src/openapi/schemas.ts), so the
 * client and the document cannot drift apart either.
 */
import type { InferRequestType, InferResponseType } from "hono/client";
import type { z } from "zod";
import { type ApiClient, createClient } from "../../../src/client";
import type * as S from "../../../src/openapi/schemas";
import type { threadCreate } from "../../../src/routes/dm";
import type { messageCreate } from "../../../src/routes/messages";

/** Mutual assignability: A and B describe the same values. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Expect<T extends true> = T;
type Output<T extends z.ZodType> = z.output<T>;

declare const api: ApiClient;

export type SuccessBodies = [
  Expect<Same<InferResponseType<typeof api.auth.me.$get, 200>, Output<typeof S.UserRead>>>,
  Expect<Same<InferResponseType<typeof api.auth.login.$post, 200>, Output<typeof S.Token>>>,
  Expect<Same<InferResponseType<typeof api.workspaces.$get, 200>, Output<typeof S.WorkspaceRead>[]>>,
  Expect<
    Same<
      InferResponseType<(typeof api.workspaces)[":workspace_id"]["channels"]["$get"], 200>,
      Output<typeof S.ChannelListItem>[]
    >
  >,
  Expect<
    Same<
      InferResponseType<(typeof api.channels)[":channel_id"]["messages"]["$post"], 200>,
      Output<typeof S.MessageRead>
    >
  >,
  Expect<Same<InferResponseType<typeof api.friends.$get, 200>, Output<typeof S.UserPublic>[]>>,
  Expect<Same<InferResponseType<typeof api.dm.threads.$post, 200>, Output<typeof S.ThreadRead>>>,
  Expect<
    Same<
      InferResponseType<(typeof api.dm.threads)[":thread_id"]["read-status"]["$get"], 200>,
      Output<typeof S.ReadStatus>
    >
  >,
  Expect<Same<InferResponseType<typeof api.health.$get, 200>, Output<typeof S.Alive>>>,
];

export type Inputs = [
  // Bodies are typed from the very schemas the routes validate with.
  Expect<
    Same<
      InferRequestType<(typeof api.channels)[":channel_id"]["messages"]["$post"]>["json"],
      z.input<typeof messageCreate>
    >
  >,
  Expect<Same<InferRequestType<typeof api.dm.threads.$post>["json"], z.input<typeof threadCreate>>>,
  // Path parameters are strings on the wire.
  Expect<
    Same<InferRequestType<(typeof api.channels)[":channel_id"]["$get"]>["param"], { channel_id: string }>
  >,
];

/** Calls as the web app writes them: these must compile, and the marked ones must not. */
export async function calls(token: string) {
  const client = createClient("https://api.example", { headers: { Authorization: `Bearer ${token}` } });

  const channels = await client.workspaces[":workspace_id"].channels.$get({
    param: { workspace_id: "1" },
    query: { include_archived: "true" },
  });
  if (channels.ok) {
    const list = await channels.json();
    list satisfies { id: number; unread_count: number }[];
  }

  const posted = await client.channels[":channel_id"].messages.$post({
    param: { channel_id: "1" },
    json: { content: "hello", client_id: "tmp-1" } satisfies z.input<typeof messageCreate>,
  });
  if (posted.ok) (await posted.json()).client_id satisfies string | null;

  await client.friends.$get({ query: { limit: "20", offset: "0", q: "bo" } });
  await client.users.online.$get({ query: { ids: "1,2,3" } });
  await client.dm.threads.$post({ json: { workspace_id: 1, user_id: 2 } });

  const withoutContent = { client_id: "x" };
  // @ts-expect-error: `content` is required.
  await client.channels[":channel_id"].messages.$post({ param: { channel_id: "1" }, json: withoutContent });
  // @ts-expect-error: the path parameter is missing.
  await client.channels[":channel_id"].$get({ param: {} });
  // @ts-expect-error: there is no such route.
  await client.channels.everything.$get();
}
