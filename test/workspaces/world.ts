/**
 * Arranging workspaces for the tests of test/workspaces: a cast of registered users, and
 * workspaces in which they hold each role, written straight into the app's database so a test
 * can have a fresh one per case cheaply.
 */
import type { TestApp } from "../support/app";
import { registerUser, type TestUser } from "../support/users";
import { workspaceWith } from "../support/worlds";

export interface Cast {
  owner: TestUser;
  admin: TestUser;
  member: TestUser;
  /** In no workspace of the tests' making. */
  outsider: TestUser;
  /** Owns a workspace of their own, in which nobody else is. */
  stranger: TestUser;
  /** A plain member, the target of role changes and removals. */
  extra: TestUser;
  /** Not a member; has a pending invite in each world. */
  invitee: TestUser;
}

export type Role = "owner" | "admin" | "member" | "outsider" | "stranger" | "anonymous";
export const ROLES: Role[] = ["owner", "admin", "member", "outsider", "stranger", "anonymous"];

export async function registerCast(app: TestApp): Promise<Cast> {
  const names = ["Owner", "Admin", "Member", "Outsider", "Stranger", "Extra", "Invitee"] as const;
  const [owner, admin, member, outsider, stranger, extra, invitee] = await Promise.all(
    names.map((displayName) => registerUser(app, { displayName })),
  );
  return { owner, admin, member, outsider, stranger, extra, invitee } as Cast;
}

export interface World {
  workspaceId: number;
  /** A workspace of the stranger's. */
  otherWorkspaceId: number;
  publicChannelId: number;
  /** Created by the owner, who is its only member besides `extra`. */
  privateChannelId: number;
  /** From the owner to the invitee. */
  pendingInviteId: number;
}

/** A workspace where the cast hold their roles, with a public and a private channel and a pending invite. */
export async function buildWorld(app: TestApp, cast: Cast): Promise<World> {
  const workspaceId = await workspaceWith(app, [[cast.owner, "owner"]], "World");
  const otherWorkspaceId = await workspaceWith(app, [[cast.stranger, "owner"]], "Elsewhere");
  await app.sql`
    insert into workspace_members (workspace_id, user_id, role) values
      (${workspaceId}, ${cast.admin.id}, 'admin'),
      (${workspaceId}, ${cast.member.id}, 'member'),
      (${workspaceId}, ${cast.extra.id}, 'member')`;
  const [pub, priv] = await app.sql<{ id: number }[]>`
    insert into channels (workspace_id, name, is_private) values
      (${workspaceId}, 'general', false), (${workspaceId}, 'secret', true)
    returning id`;
  const publicChannelId = (pub as { id: number }).id;
  const privateChannelId = (priv as { id: number }).id;
  await app.sql`
    insert into channel_members (channel_id, user_id) values
      (${publicChannelId}, ${cast.owner.id}),
      (${privateChannelId}, ${cast.owner.id}),
      (${privateChannelId}, ${cast.extra.id})`;
  const [invite] = await app.sql<{ id: number }[]>`
    insert into workspace_invites (workspace_id, inviter_user_id, invitee_user_id, status)
    values (${workspaceId}, ${cast.owner.id}, ${cast.invitee.id}, 'pending') returning id`;
  return {
    workspaceId,
    otherWorkspaceId,
    publicChannelId,
    privateChannelId,
    pendingInviteId: (invite as { id: number }).id,
  };
}

export function tokenOf(cast: Cast, role: Role): string | undefined {
  return role === "anonymous" ? undefined : cast[role].accessToken;
}
