/** GET /users/me/mentions (src/routes/mentions.ts). */
import { z } from "zod";
import { mentionsQuery } from "../../routes/mentions";
import { operation } from "../define";
import { MentionRead } from "../schemas";

export const mentionOperations = [
  operation({
    method: "get",
    path: "/users/me/mentions",
    tag: "users",
    summary: "The caller's mentions, newest first",
    description:
      "`@handle`, `@channel` and `@here` mentions of the caller, in messages they can still open " +
      "(not deleted; a channel they can see now, a thread they take part in). Keyset pages: " +
      "`before_id` is the last mention id received; `limit` 1..100 (default 50).",
    query: mentionsQuery,
    ok: { description: "Mentions.", schema: z.array(MentionRead) },
  }),
];
