/**
 * Users on the wire (docs/http-api.md#shapes): UserRead for the account owner, UserPublic for everyone else.
 */
import type { User } from "../db/schema";

export const isoTime = (date: Date | null | undefined) => (date ? date.toISOString() : null);

export type UserPublic = { id: number; display_name: string | null; avatar_url: string | null };

export function toUserPublic(user: Pick<User, "id" | "displayName" | "avatarUrl">): UserPublic {
  return { id: user.id, display_name: user.displayName, avatar_url: user.avatarUrl };
}

export function toUserRead(user: User) {
  return {
    id: user.id,
    email: user.email,
    display_name: user.displayName,
    avatar_url: user.avatarUrl,
    is_active: user.isActive,
    is_superuser: user.isSuperuser,
    created_at: isoTime(user.createdAt),
  };
}
