/**
 * Arranging who knows whom for the users and friends tests, directly in the database, so these
 * tests depend on nothing but the routes they test: workspaces with members in given roles, and
 * friendships.
 */
import { randomBytes } from "node:crypto";
import type { TestApp } from "../support/app";
import type { TestUser } from "../support/users";

export type Role = "owner" | "admin" | "member";

/** A workspace whose first member is its owner. */
export async function workspaceWith(app: TestApp, members: [TestUser, Role][]): Promise<number> {
  const owner = members.find(([, role]) => role === "owner")?.[0] ?? members[0]?.[0];
  if (!owner) throw new Error("a workspace needs a member");
  const slug = `ws-${randomBytes(6).toString("hex")}`;
  const [row] = await app.sql<{ id: number }[]>`
    insert into workspaces (name, slug, owner_id) values (${slug}, ${slug}, ${owner.id}) returning id`;
  const workspaceId = row?.id as number;
  for (const [user, role] of members) {
    await app.sql`insert into workspace_members (workspace_id, user_id, role) values (${workspaceId}, ${user.id}, ${role})`;
  }
  return workspaceId;
}

export async function befriend(app: TestApp, a: TestUser, b: TestUser): Promise<void> {
  await app.sql`
    insert into friends (user1_id, user2_id) values (${Math.min(a.id, b.id)}, ${Math.max(a.id, b.id)})`;
}
