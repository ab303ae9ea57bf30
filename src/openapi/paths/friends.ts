/** Friend routes (docs/http-api.md#friends; src/routes/friends.ts). */
import { z } from "zod";
import { friendsQuery, page, requestBody, requestParam, userParam } from "../../routes/friends";
import { operation } from "../define";
import { FriendRequestRead, UserPublic } from "../schemas";

const tag = "friends";

const listFriends = (path: string) =>
  operation({
    method: "get",
    path,
    tag,
    summary: "The caller's friends, newest friendship first",
    description:
      "`/friends` and `/friends/` answer alike. `q` filters on the friend's display name; `limit` is " +
      "clamped to 1..50 (default 20), a negative `offset` counts as 0.",
    query: friendsQuery,
    ok: { description: "Friends.", schema: z.array(UserPublic) },
  });

const pending = (direction: "incoming" | "outgoing") =>
  operation({
    method: "get",
    path: `/friends/requests/${direction}`,
    tag,
    summary: `Pending ${direction} friend requests, newest first`,
    query: page,
    ok: { description: "Pending requests.", schema: z.array(FriendRequestRead) },
  });

const answer = (verb: "accept" | "decline") =>
  operation({
    method: "post",
    path: `/friends/requests/{request_id}/${verb}`,
    tag,
    summary: verb === "accept" ? "Accept a friend request" : "Decline a friend request",
    params: requestParam,
    ok: { description: "The answered request.", schema: FriendRequestRead },
    errors: {
      403: "`Forbidden`: the caller is not the addressee.",
      404: "`Request not found`.",
      409: "`Request already accepted` or `Request already declined`.",
    },
  });

export const friendOperations = [
  listFriends("/friends"),
  listFriends("/friends/"),
  operation({
    method: "post",
    path: "/friends/requests",
    tag,
    summary: "Send a friend request",
    description: "A pending request to the same user is returned unchanged.",
    body: requestBody,
    ok: { description: "The request.", schema: FriendRequestRead },
    errors: {
      400: "`Cannot friend yourself` or `Already friends`.",
      404: "`User not found`.",
      409: "`Incoming request already pending`.",
    },
  }),
  pending("incoming"),
  pending("outgoing"),
  answer("accept"),
  answer("decline"),
  operation({
    method: "delete",
    path: "/friends/requests/{request_id}",
    tag,
    summary: "Withdraw a pending friend request",
    params: requestParam,
    ok: { status: 204, description: "Withdrawn." },
    errors: {
      403: "`Forbidden`: the caller is not the requester.",
      404: "`Request not found`.",
      409: "The request is no longer pending.",
    },
  }),
  operation({
    method: "delete",
    path: "/friends/{user_id}",
    tag,
    summary: "Unfriend",
    params: userParam,
    ok: {
      status: 204,
      description:
        "No longer friends. Their DM thread becomes read-only (its sockets are closed) unless they " +
        "share a workspace.",
    },
    errors: { 404: "`Friend not found`." },
  }),
];
