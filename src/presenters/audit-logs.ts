/**
 * Audit log entries on the wire (GET /workspaces/{id}/audit-logs), one page at a time.
 */
import type { AuditLog, User } from "../db/schema";
import { isoTime, toUserPublic, type UserPublic } from "./users";

export interface AuditLogView {
  entry: AuditLog;
  /** Null when the entry has no actor or the actor's account is gone. */
  actor: Pick<User, "id" | "displayName" | "avatarUrl"> | null;
}

export function toAuditLogRead({ entry, actor }: AuditLogView) {
  return {
    id: entry.id,
    workspace_id: entry.workspaceId,
    actor_user_id: entry.actorUserId,
    actor: actor ? toUserPublic(actor) : (null as UserPublic | null),
    action: entry.action,
    target_type: entry.targetType,
    target_id: entry.targetId,
    details: entry.details,
    created_at: isoTime(entry.createdAt),
  };
}

export function toAuditLogPage(entries: AuditLogView[], nextBeforeId: number | null) {
  return { items: entries.map(toAuditLogRead), next_before_id: nextBeforeId };
}
