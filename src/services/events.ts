/**
 * Telling users about a committed change through the notifier: several events at once, each
 * delivered on its own, and the `by` (UserPublic) that membership events carry.
 */
import { eq } from "drizzle-orm";
import { users } from "../db/schema";
import { toUserPublic, type UserPublic } from "../presenters/users";
import type { Queryable } from "./access";
import type { NotificationEvent, Notifier } from "./notifier";

/** Delivery is best effort and must never fail the request whose change is already committed. */
export async function notifyAll(
  notifier: Notifier,
  deliveries: [userId: number, event: NotificationEvent][],
) {
  await Promise.allSettled(deliveries.map(([userId, event]) => notifier.notify(userId, event)));
}

/** The user who caused an event, as events show them. */
export async function publicUser(db: Queryable, userId: number): Promise<UserPublic | null> {
  const [user] = await db
    .select({ id: users.id, displayName: users.displayName, avatarUrl: users.avatarUrl })
    .from(users)
    .where(eq(users.id, userId));
  return user ? toUserPublic(user) : null;
}
