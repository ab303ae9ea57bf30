/** User routes (docs/http-api.md#users; src/routes/users.ts). */
import { z } from "zod";
import { onlineQuery, profileChanges, searchQuery } from "../../routes/users";
import { operation } from "../define";
import { OnlineStatus, UserPublic, UserRead } from "../schemas";

const tag = "users";

/**
 * Documentation only: these two routes read their path parameter unvalidated (any string is
 * looked up), so there is no validation schema to import.
 */
const handleParam = (name: string) =>
  z.object({
    [name]: z.string().meta({ description: "A full handle, `name#1234`, with `#` sent as `%23`" }),
  });

const byHandle = (path: string, param: string, summary: string) =>
  operation({
    method: "get",
    path,
    tag,
    summary,
    description: "Trimmed, case-insensitive exact match on the full handle.",
    params: handleParam(param),
    unvalidated: true,
    ok: { description: "The user.", schema: UserPublic },
    errors: { 404: "`User not found`." },
  });

export const userOperations = [
  byHandle("/users/by-username/{username}", "username", "Find a user by handle"),
  byHandle("/users/by-display-name/{display_name}", "display_name", "Find a user by handle"),
  operation({
    method: "get",
    path: "/users/search",
    tag,
    summary: "Search users within the caller's reach",
    description:
      "A full handle matches exactly; anything else is a name prefix. `limit` is clamped to 1..50.",
    query: searchQuery,
    ok: { description: "Matching users.", schema: z.array(UserPublic) },
  }),
  operation({
    method: "get",
    path: "/users/online",
    tag,
    summary: "Online state of users",
    description:
      "`ids` is comma-separated; blanks and non-integers are dropped, order and duplicates kept " +
      "(at most 100). Users outside the caller's reach are reported offline.",
    query: onlineQuery,
    ok: { description: "One entry per id.", schema: z.array(OnlineStatus) },
    errors: { 503: "`Online status is temporarily unavailable` (the store failed)." },
  }),
  operation({
    method: "patch",
    path: "/users/me",
    tag,
    summary: "Update the caller's profile",
    description: "`avatar_url`: absent leaves it, null removes it. A new display name gets a new tag.",
    body: profileChanges,
    ok: { description: "The updated account.", schema: UserRead },
    errors: {
      400: "An invalid display name.",
      409: "`Unable to allocate a unique tag for this display name.`",
    },
  }),
];
