/** GET /search/messages (src/routes/search.ts). */
import { searchQuery } from "../../routes/search";
import { operation } from "../define";
import { SearchPage } from "../schemas";

export const searchOperations = [
  operation({
    method: "get",
    path: "/search/messages",
    tag: "search",
    summary: "Full-text search of the messages the caller can read",
    description:
      "Channels the caller can read now (a private one only while a member of it) and their DM threads. " +
      '`q` (1..256 characters) is read as a search box: words, `"a phrase"`, `-word`, `or`. Filters: ' +
      "`workspace_id` (its channels only), `channel_id`, `thread_id`, `from` (author id), `before`/`after` " +
      "(ISO 8601, exclusive). `sort`: `relevance` (default) or `newest`. Keyset pages: `limit` 1..50 " +
      "(default 20), `cursor` = the previous page's `next_cursor`. Deleted messages are never found.",
    query: searchQuery,
    ok: { description: "A page of hits, best first.", schema: SearchPage },
    errors: {
      403: "A filter names a workspace, channel or thread the caller cannot read (`Forbidden`, `Not part of this thread`).",
      404: "A filter names something that does not exist (`Workspace not found`, `Not Found`, `Thread not found`, `User not found`).",
    },
    routeLimit: "RATE_LIMIT_SEARCH_PER_MINUTE searches per user",
  }),
];
