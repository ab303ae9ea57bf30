/**
 * A conversation object's reads and writes of PostgreSQL, over its own connection: the message
 * statements of services/conversation-messages.ts bound to the conversation's table and id, and
 * the authors events show (reused for a minute).
 */
import type { Database } from "../db/client";
import { recordAudit } from "../services/audit-log";
import {
  type Author,
  type ChangeOutcome,
  deleteMessage,
  editMessage,
  getAuthor,
  getMessage,
  insertMessage,
  listMessages,
  type MessageTable,
  moveReadPointer,
  type ReadState,
  readPointer,
  type StoredMessage,
  type ThreadCounters,
  unreadCount,
} from "../services/conversation-messages";
import type { PageQuery } from "../services/message-rules";
import { addReaction, type ReactionChange, removeReaction, withReactions } from "../services/reactions";

const AUTHOR_CACHE_MS = 60_000;

export class ConversationData {
  private readonly authors = new Map<number, { author: Author; at: number }>();

  constructor(
    private readonly table: MessageTable,
    private readonly db: () => Database,
    /** The conversation's id (throws while the object does not know it). */
    private readonly id: () => number,
  ) {}

  /** The object's connection, for the services the writer calls with it (mentions). */
  database(): Database {
    return this.db();
  }

  async author(userId: number): Promise<Author | undefined> {
    const entry = this.authors.get(userId);
    if (entry && Date.now() - entry.at < AUTHOR_CACHE_MS) return entry.author;
    const author = await getAuthor(this.db(), userId);
    if (author) {
      if (this.authors.size > 5000) this.authors.clear();
      this.authors.set(userId, { author, at: Date.now() });
    }
    return author;
  }

  /** Stores a message (a reply, with its root's counters, when `parentId` is set). */
  async insert(
    userId: number,
    content: string,
    parentId: number | null,
  ): Promise<StoredMessage & { thread?: ThreadCounters }> {
    const [row, author] = await Promise.all([
      insertMessage(this.db(), this.table, { conversationId: this.id(), userId, content, parentId }),
      this.author(userId),
    ]);
    return { ...row, author: author ?? { id: userId, displayName: null, avatarUrl: null } };
  }

  /** A page of a root's replies. */
  replies(rootId: number, page: PageQuery): Promise<StoredMessage[]> {
    return listMessages(this.db(), this.table, this.id(), page, { rootId });
  }

  /** Attaches each message's reactions as `viewerId` sees them. */
  withReactions(messages: StoredMessage[], viewerId: number): Promise<StoredMessage[]> {
    return withReactions(this.db(), this.table, messages, viewerId);
  }

  addReaction(messageId: number, userId: number, emoji: string): Promise<ReactionChange> {
    return addReaction(this.db(), this.table, messageId, userId, emoji);
  }

  removeReaction(messageId: number, userId: number, emoji: string): Promise<ReactionChange> {
    return removeReaction(this.db(), this.table, messageId, userId, emoji);
  }

  load(messageId: number): Promise<StoredMessage | undefined> {
    return getMessage(this.db(), this.table, this.id(), messageId);
  }

  page(page: PageQuery, includeReplies = true): Promise<StoredMessage[]> {
    return listMessages(this.db(), this.table, this.id(), page, { includeReplies });
  }

  /** Messages after `id`, oldest first: deleted ones left out for a catch-up, kept for the write queue. */
  after(id: number, limit: number, options: { withDeleted: boolean }): Promise<StoredMessage[]> {
    return listMessages(
      this.db(),
      this.table,
      this.id(),
      { afterId: id, limit },
      { includeDeleted: options.withDeleted },
    );
  }

  /** The newest message id, deleted messages included (0 when there is none). */
  async newestId(): Promise<number> {
    const [newest] = await listMessages(
      this.db(),
      this.table,
      this.id(),
      { limit: 1 },
      { includeDeleted: true },
    );
    return newest?.id ?? 0;
  }

  edit(userId: number, messageId: number, content: string): Promise<ChangeOutcome> {
    return editMessage(this.db(), this.table, { conversationId: this.id(), userId, messageId, content });
  }

  /**
   * Soft-deletes a message. A moderator deleting someone else's message is recorded in
   * `auditWorkspace`'s audit log, in the same transaction.
   */
  remove(
    userId: number,
    messageId: number,
    moderator: boolean,
    auditWorkspace: number | null,
  ): Promise<ChangeOutcome> {
    const change = { conversationId: this.id(), userId, messageId, moderator };
    if (!moderator || auditWorkspace === null) return deleteMessage(this.db(), this.table, change);
    return this.db().transaction(async (tx) => {
      const outcome = await deleteMessage(tx, this.table, change);
      if (outcome.kind === "ok" && outcome.message.userId !== userId) {
        await recordAudit(tx, {
          workspaceId: auditWorkspace,
          actorUserId: userId,
          action: "message.deleted",
          targetType: "message",
          targetId: messageId,
          details: { channel_id: change.conversationId, author_id: outcome.message.userId },
        });
      }
      return outcome;
    });
  }

  movePointer(userId: number, messageId: number | null): Promise<number> {
    return moveReadPointer(this.db(), this.table, userId, this.id(), messageId);
  }

  /** The user's pointer and unread count, and the pointers of `peers`. */
  async readState(userId: number, peers: number[]): Promise<ReadState> {
    const db = this.db();
    const id = this.id();
    const [own, unread, ...others] = await Promise.all([
      readPointer(db, this.table, userId, id),
      unreadCount(db, this.table, userId, id),
      ...peers.map((peer) => readPointer(db, this.table, peer, id)),
    ]);
    return {
      conversationId: id,
      lastReadMessageId: own ?? 0,
      unreadCount: unread ?? 0,
      peers: peers.map((peer, index) => ({ userId: peer, lastReadMessageId: others[index] ?? 0 })),
    };
  }
}
