/**
 * Friend requests on the wire (FriendRequestRead, docs/http-api.md#friends).
 */
import type { FriendRequest, User } from "../db/schema";
import { isoTime, toUserPublic } from "./users";

export interface FriendRequestView {
  request: FriendRequest;
  requester: User;
  addressee: User;
}

export function toFriendRequestRead({ request, requester, addressee }: FriendRequestView) {
  return {
    id: request.id,
    status: request.status,
    requester: toUserPublic(requester),
    addressee: toUserPublic(addressee),
    created_at: isoTime(request.createdAt),
    updated_at: isoTime(request.updatedAt),
  };
}
