/**
 * What differs between the two kinds of conversation, channels and direct-message threads, as
 * one descriptor per kind (kinds/channel.ts, kinds/dm.ts). The conversation object
 * (conversation-room.ts) is written once against this; nothing there asks which kind it serves.
 */
import type { Config } from "../config";
import type { Database } from "../db/client";
import type { SocketEndpoint } from "../observability/metrics";
import type { MessageTable, ReadState, StoredMessage } from "../services/conversation-messages";
import type { Notifier } from "../services/notifier";
import type { MessageScope } from "../services/rate-limits";
import type { ConversationKind } from "./names";
import type { MessageEventPayload, ServerEvent } from "./protocol/server-events";
import type { SocketLease } from "./socket-liveness";
import type { Refusal } from "./write-ports";

/** A conversation as its object needs it: its id and what access and events depend on. */
export interface Conversation {
  id: number;
}

/** What one user may do in a conversation (cached by the object, see access-cache.ts). */
export interface Standing {
  /** Why the user may not read (see, subscribe to, list), or null. */
  readRefusal: Refusal | null;
  /** Why the user may not write (post, edit), or null. */
  writeRefusal: Refusal | null;
  /**
   * Why the user may not hold a socket here, beyond reading (a read-only thread carries no live
   * presence or typing), or null.
   */
  socketRefusal: Refusal | null;
  /** May delete others' messages. */
  moderator: boolean;
}

/** A socket's attachment: the liveness lease, the conversation, what events need. Well under 2 KB. */
export interface ConversationAttachment extends SocketLease {
  conversationId: number;
  displayName: string | null;
}

/** What the kind's hooks may use of the object that calls them. */
export interface RoomContext {
  readonly notifier: Notifier;
  hasOpenSocket(userId: number): boolean;
}

export interface ConversationKindRules<C extends Conversation> {
  kind: ConversationKind;
  endpoint: SocketEndpoint;
  table: MessageTable;
  /** What a missing conversation answers (404), and what closes its sockets when it is deleted. */
  notFound: Refusal;
  deletedReason: string;
  /**
   * What deleting one's message needs: writing (a channel: an archived channel keeps its history as
   * it is) or only reading (a thread: a read-only thread still lets each delete their own words).
   */
  removeNeeds: "read" | "write";
  /** The conversation as it is now, or undefined when it does not exist. */
  load(db: Database, id: number): Promise<C | undefined>;
  standing(db: Database, conversation: C, userId: number): Promise<Standing>;
  /** A handshake's own check beyond read access (a channel socket's URL names its workspace). */
  handshakeRefusal(conversation: C, fields: Record<string, unknown>): Refusal | null;
  /**
   * The workspace whose audit log records a moderator deleting someone else's message here, or
   * null where nobody moderates (a DM thread).
   */
  auditWorkspace(conversation: C): number | null;
  /** What posts here are counted against (services/rate-limits.ts). */
  rateScope(conversation: C): MessageScope;
  /** The ids every event of the conversation carries besides its own (`workspace_id`, `channel_id` / `thread_id`). */
  conversationFields(conversation: C): Record<string, number | null>;
  /** The payload of `message`, `message.updated` and `message.deleted`. */
  eventPayload(message: StoredMessage, conversation: C, clientId: string | null): MessageEventPayload;
  /** Whose read pointers a reader sees beside their own. */
  readPeers(conversation: C, userId: number): number[];
  /** The `read` event after a pointer moved, and to whom (a tag, or everyone); null for none. */
  receipt(state: ReadState, userId: number): { event: ServerEvent; onlyTheReader: boolean } | null;
  /** The smallest id a socket's `read` frame may name (0 on channels, 1 on threads). */
  presence: {
    /** Every socket's join is announced (threads), or only a user's first socket here (channels). */
    announceEveryJoin: boolean;
    /** A user is announced gone only when their notification feed has no socket either (threads). */
    leaveWhenFeedEmpty: boolean;
  };
  /**
   * Who can read the conversation now (mentions are resolved to them only): everyone, at most
   * `limit`, or those whose handle is one of `handles` (lower-cased).
   */
  readers(
    db: Database,
    conversation: C,
    options: { handles?: readonly string[]; limit: number },
  ): Promise<{ id: number; handle: string }[]>;
  /** After messages were published, in id order (a thread tells an absent recipient). */
  afterPublish(
    room: RoomContext,
    conversation: C,
    created: StoredMessage[],
    config: Config | undefined,
  ): Promise<void>;
}
