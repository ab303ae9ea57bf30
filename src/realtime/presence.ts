/**
 * Who is here, as a conversation announces it (`presence` events) and as typing is told
 * (`typing`, throttled per user: frame-budget.ts). What is announced last per user is remembered,
 * so each join and leave is told once; when, is the kind's policy (conversation-kind.ts).
 */
import type { ConversationAttachment, ConversationKindRules } from "./conversation-kind";
import { nextTyping, type TypingState } from "./frame-budget";
import type { ServerEvent } from "./protocol/server-events";

export interface PresenceHost {
  broadcast(event: ServerEvent): void;
  hasOpenSocket(userId: number, except?: WebSocket): boolean;
  /** Runs a step in the conversation's queue, so an announcement takes its place among events. */
  enqueue(step: () => Promise<void>): Promise<void>;
  /** How many notification sockets the user holds (for the kinds that ask). */
  feedSockets(userId: number): Promise<number>;
  warn(message: string, fields: Record<string, unknown>): void;
}

export class Presence {
  /** What was last announced per user (true = present). */
  private readonly announced = new Map<number, boolean>();
  private readonly typing = new Map<number, TypingState>();

  constructor(
    private readonly policy: ConversationKindRules<{ id: number }>["presence"],
    private readonly host: PresenceHost,
  ) {}

  /** A socket joined: announced to the conversation, the new socket included. */
  joined(attachment: ConversationAttachment, socket: WebSocket): void {
    if (!this.policy.announceEveryJoin && this.host.hasOpenSocket(attachment.userId, socket)) {
      if (this.announced.get(attachment.userId) === true) return;
    }
    this.announced.set(attachment.userId, true);
    this.host.broadcast({
      type: "presence",
      payload: { user_id: attachment.userId, display_name: attachment.displayName, online: true },
    });
  }

  /** A user whose last socket here closed is announced gone, once. */
  leaveIfGone(userId: number): void {
    if (this.host.hasOpenSocket(userId) || this.announced.get(userId) === false) return;
    if (!this.policy.leaveWhenFeedEmpty) {
      this.leave(userId);
      return;
    }
    void this.host
      .enqueue(async () => {
        try {
          if ((await this.host.feedSockets(userId)) > 0) return;
        } catch (error) {
          // Unknown: saying nothing beats announcing offline someone who may be online.
          this.host.warn("could not ask a user's feed before announcing them offline", {
            user_id: userId,
            err: error,
          });
          return;
        }
        this.leave(userId);
      })
      .catch(() => {});
  }

  /** A typing frame: broadcast unless the throttle says it was said already. */
  typed(attachment: ConversationAttachment, isTyping: boolean): void {
    const next = nextTyping(this.typing.get(attachment.userId), isTyping, Date.now());
    if (!next) return;
    this.typing.set(attachment.userId, next);
    this.host.broadcast({
      type: "typing",
      payload: { user_id: attachment.userId, display_name: attachment.displayName, is_typing: isTyping },
    });
  }

  private leave(userId: number): void {
    if (this.host.hasOpenSocket(userId) || this.announced.get(userId) === false) return;
    this.announced.set(userId, false);
    this.typing.delete(userId);
    this.host.broadcast({ type: "presence", payload: { user_id: userId, online: false } });
  }
}
