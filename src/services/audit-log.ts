/**
 * The audit log of a workspace: every change of membership, role, channel, invite and
 * workspace settings, and every message a moderator deleted, written in the same transaction as the change it records, and read by
 * the workspace's owner and admins, newest first, a page at a time (`before_id` cursor).
 */
import { and, desc, eq, lt } from "drizzle-orm";
import { type AuditLog, auditLogs, users } from "../db/schema";
import type { AuditLogView } from "../presenters/audit-logs";
import { type Queryable, requireWorkspaceManager } from "./access";

export type AuditAction =
  | "workspace.created"
  | "workspace.updated"
  | "workspace.deleted"
  | "workspace.ownership_transferred"
  | "member.joined"
  | "member.left"
  | "member.removed"
  | "member.role_changed"
  | "invite.created"
  | "invite.accepted"
  | "invite.declined"
  | "invite.cancelled"
  | "channel.created"
  | "channel.updated"
  | "channel.deleted"
  | "channel.member_added"
  | "channel.member_removed"
  /** A moderator deleted someone else's message (an author deleting their own is not recorded). */
  | "message.deleted";

export type AuditTargetType = "workspace" | "user" | "invite" | "channel" | "message";

export interface AuditEntry {
  workspaceId: number;
  actorUserId: number | null;
  action: AuditAction;
  targetType: AuditTargetType;
  targetId: number | null;
  details?: Record<string, unknown>;
}

/** Pass the transaction that makes the change, so the entry exists exactly when the change does. */
export async function recordAudit(db: Queryable, entry: AuditEntry): Promise<void> {
  await db.insert(auditLogs).values({ ...entry, details: entry.details ?? {} });
}

/** `{ from, to }` for each field that changed, to put in an entry's details. */
export function changes<T extends Record<string, unknown>>(before: T, after: Partial<T>) {
  const changed: Record<string, { from: unknown; to: unknown }> = {};
  for (const [key, value] of Object.entries(after)) {
    if (value !== undefined && value !== before[key]) changed[key] = { from: before[key], to: value };
  }
  return changed;
}

export const AUDIT_PAGE_DEFAULT = 50;
export const AUDIT_PAGE_MAX = 100;

export interface AuditPage {
  entries: AuditLogView[];
  /** The `before_id` of the next (older) page, or null when this is the last. */
  nextBeforeId: number | null;
}

export async function listAuditLogs(
  db: Queryable,
  callerId: number,
  workspaceId: number,
  page: { beforeId?: number; limit?: number },
): Promise<AuditPage> {
  await requireWorkspaceManager(db, workspaceId, callerId);
  const limit = page.limit ?? AUDIT_PAGE_DEFAULT;
  const rows = await db
    .select({
      entry: auditLogs,
      actor: { id: users.id, displayName: users.displayName, avatarUrl: users.avatarUrl },
    })
    .from(auditLogs)
    .leftJoin(users, eq(users.id, auditLogs.actorUserId))
    .where(
      and(
        eq(auditLogs.workspaceId, workspaceId),
        page.beforeId === undefined ? undefined : lt(auditLogs.id, page.beforeId),
      ),
    )
    .orderBy(desc(auditLogs.id))
    // One more than asked tells whether an older page exists.
    .limit(limit + 1);
  const entries = rows.slice(0, limit).map((row) => ({ entry: row.entry as AuditLog, actor: row.actor }));
  const last = entries.at(-1);
  return { entries, nextBeforeId: rows.length > limit && last ? last.entry.id : null };
}
