/**
 * A conversation object's reads and writes of PostgreSQL, over its own connection: the message
 * statements of services/conversation-messages.ts bound to the conversation's table and id, and
 * the authors events show (reused for a minute).
 */
import type { Database } from "../db/client";
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
  unreadCount,
} from "../services/conversation-messages";
import type { PageQuery } from "../services/message-rules";

const AUTHOR_CACHE_MS = 60_000;

export class ConversationData {
  private readonly authors = new Map<number, { author: Author; at: number }>();

  constructor(
    private readonly table: MessageTable,
    private readonly db: () => Database,
    /** The conversation's id (throws while the object does not know it). */
    private readonly id: () => number,
  ) {}

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

  async insert(userId: number, content: string): Promise<StoredMessage> {
    const [row, author] = await Promise.all([
      insertMessage(this.db(), this.table, { conversationId: this.id(), userId, content }),
      this.author(userId),
    ]);
    return { ...row, author: author ?? { id: userId, displayName: null, avatarUrl: null } };
  }

  load(messageId: number): Promise<StoredMessage | undefined> {
    return getMessage(this.db(), this.table, this.id(), messageId);
  }

  page(page: PageQuery): Promise<StoredMessage[]> {
    return listMessages(this.db(), this.table, this.id(), page);
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

  remove(userId: number, messageId: number, moderator: boolean): Promise<ChangeOutcome> {
    return deleteMessage(this.db(), this.table, { conversationId: this.id(), userId, messageId, moderator });
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
