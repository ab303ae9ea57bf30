/**
 * The two kinds of conversation as the contract suites drive them: a channel (/ws/chat, the
 * /channels routes) and a direct-message thread (/ws/dm, the /dm/threads routes). Each kind says
 * how to make a conversation of its own with two participants, open its socket, post, list and
 * read its rows, and what its events and refusals look like; the suites in this folder run the
 * same cases against both (`describe.each(KINDS)`). What only one kind does is tested in
 * test/messages (channels) and test/dm (threads).
 */
import { expect } from "vitest";
import type { TestApp } from "../support/app";
import { as } from "../support/http";
import { chatPath, chatUrl, dmPath, dmUrl, joinChat, joinDm } from "../support/sockets";
import type { TestUser } from "../support/users";
import {
  buildCast,
  buildRoom,
  type ChannelMessageBody,
  type DirectMessageBody,
  freshChannel,
  newMember,
  openThread,
  post,
  postDm,
} from "../support/worlds";
import type { ConnectOptions, TestSocket } from "../support/ws";

/** A conversation of a test's own: `a` and `b` take part in it (and may post). */
export interface Conversation {
  id: number;
  a: TestUser;
  b: TestUser;
}

/** A message as REST answers it. */
export type MessageBody = ChannelMessageBody | DirectMessageBody;

type Query = Record<string, string | number | undefined>;

export interface ConversationKind {
  name: "channel" | "dm";
  /** A new conversation, with its own history, rate windows and sockets. */
  fresh(): Promise<Conversation>;
  /** Another conversation in which `user` (its `a`) takes part. */
  another(user: TestUser): Promise<Conversation>;
  /** Someone who may not read the conversation (and so may not hold its socket). */
  outsider: TestUser;
  join(
    conversation: Conversation,
    user: TestUser,
    options?: { since?: number; token?: string } & ConnectOptions,
  ): Promise<TestSocket>;
  /** The socket's path, with a token and `extra` query text (for raw handshakes). */
  socketPath(conversation: Conversation, token?: string, extra?: string): string;
  socketUrl(conversation: Conversation, query?: Query): string;
  /** What the log names the socket by. */
  endpoint: string;
  /** Posts over REST (fails the test unless 200). */
  post(conversation: Conversation, user: TestUser, content: string, clientId?: string): Promise<MessageBody>;
  messagesPath(conversation: Conversation | number | string): string;
  /** Stored contents, deleted messages included, oldest first. */
  stored(conversation: Conversation): Promise<string[]>;
  storedIds(conversation: Conversation): Promise<number[]>;
  /** Each stored row's is_deleted, oldest first (deleting is soft). */
  storedDeletedFlags(conversation: Conversation): Promise<boolean[]>;
  /** Rows written straight into the table ('<prefix><n>', n from 1), bypassing the object; their ids. */
  insert(
    conversation: Conversation,
    author: TestUser,
    count: number,
    options?: { prefix?: string; createdAt?: string },
  ): Promise<number[]>;
  /** A message as REST answers it, for `user` posting `content`. */
  restShape(
    conversation: Conversation,
    user: TestUser,
    content: string,
    clientId: string | null,
  ): { reactions?: unknown };
  /** What events carry beyond the REST answer. */
  eventExtras(conversation: Conversation, author: TestUser): object;
  /** The field naming the conversation on a message. */
  conversationField(conversation: Conversation): object;
  /** The `read` event the reader's own sockets get when their pointer moves to `id`. */
  readEvent(conversation: Conversation, reader: TestUser, id: number, unread: number): object;
  /** The reader's stored pointer, through REST. */
  readPointer(conversation: Conversation, reader: TestUser): Promise<number>;
  /** Read ids a `read` frame may not name here beyond the ones no kind accepts (a thread starts at 1). */
  readIdsBelowMinimum: unknown[];
  /** Handshakes refused for who the caller is or what the URL names: [label, path, detail]. */
  refusedHandshakes(): [string, string, string][];
  /** A conversation whose every handshake above is made against, and a participant in it. */
  main: Conversation;
  /** Whether a second socket of a user already here is announced (threads: yes; channels: first only). */
  announcesEveryJoin: boolean;
}

const ANSWER_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$/;

/** A message as REST answers it, for `user` posting `content`, in the conversation `where` names. */
const messageShape = (where: object, user: TestUser, content: string, clientId: string | null) => ({
  id: expect.any(Number),
  ...where,
  user_id: user.id,
  content,
  client_id: clientId,
  is_edited: false,
  is_deleted: false,
  created_at: expect.stringMatching(ANSWER_TIME),
  updated_at: null,
  author: { id: user.id, display_name: user.displayName, avatar_url: null },
  parent_id: null,
  reply_count: 0,
  last_reply_at: null,
  reply_user_ids: [],
  reactions: [],
});

/** Where a kind's messages are stored: the table, its conversation column and its author column. */
interface MessageTable {
  name: "messages" | "direct_messages";
  conversation: "channel_id" | "thread_id";
  author: "user_id" | "sender_id";
}

/** Reading and writing a kind's rows straight in the database. */
function rowsOf(app: TestApp, table: MessageTable) {
  const { sql } = app;
  const column = async <T>(name: string, c: Conversation): Promise<T[]> => {
    const rows = await sql<Record<string, T>[]>`
      select ${sql(name)} from ${sql(table.name)} where ${sql(table.conversation)} = ${c.id} order by id`;
    return rows.map((row) => row[name] as T);
  };
  return {
    stored: (c: Conversation) => column<string>("content", c),
    storedIds: (c: Conversation) => column<number>("id", c),
    storedDeletedFlags: (c: Conversation) => column<boolean>("is_deleted", c),
    async insert(
      c: Conversation,
      author: TestUser,
      count: number,
      options: { prefix?: string; createdAt?: string } = {},
    ) {
      const rows = await sql<{ id: number }[]>`
        insert into ${sql(table.name)}
          (${sql(table.conversation)}, ${sql(table.author)}, content, is_edited, is_deleted, created_at)
        select ${c.id}, ${author.id}, ${options.prefix ?? "m"} || g, false, false,
               coalesce(${options.createdAt ?? null}::timestamptz, now())
        from generate_series(1, ${count}::int) as g
        returning id`;
      return rows.map((r) => r.id).sort((x, y) => x - y);
    },
  };
}

async function channelKind(app: TestApp): Promise<ConversationKind> {
  const room = await buildRoom(app);
  const fresh = async (): Promise<Conversation> => ({
    id: await freshChannel(app, room),
    a: room.member,
    b: room.admin,
  });
  const idOf = (c: Conversation | number | string) => (typeof c === "object" ? c.id : c);
  return {
    name: "channel",
    fresh,
    another: async (user) => ({ ...(await fresh()), a: user }),
    outsider: room.outsider,
    join: (c, user, options = {}) => joinChat(app, room, user, { ...options, channelId: c.id }),
    socketPath: (c, token, extra) => chatPath(room.workspaceId, c.id, token, extra),
    socketUrl: (c, query) => chatUrl(app, room.workspaceId, c.id, query),
    endpoint: "/ws/chat/",
    post: (c, user, content, clientId) => post(app, user, c.id, content, clientId),
    messagesPath: (c) => `/channels/${idOf(c)}/messages`,
    ...rowsOf(app, { name: "messages", conversation: "channel_id", author: "user_id" }),
    restShape: (c, user, content, clientId) => messageShape({ channel_id: c.id }, user, content, clientId),
    eventExtras: () => ({ workspace_id: room.workspaceId }),
    conversationField: (c) => ({ channel_id: c.id }),
    readEvent: (c, reader, id, unread) => ({
      user_id: reader.id,
      channel_id: c.id,
      last_read_message_id: id,
      unread_count: unread,
    }),
    async readPointer(c, reader) {
      const res = await as(app, reader).get(`/channels/${c.id}/read`);
      expect(res.status, res.text).toBe(200);
      return res.body.last_read_message_id;
    },
    readIdsBelowMinimum: [],
    refusedHandshakes: () => {
      const { workspaceId, channelId, privateChannelId } = room;
      return [
        ["not a member", chatPath(workspaceId, channelId, room.outsider.accessToken), "Forbidden"],
        [
          "other workspace's member",
          chatPath(workspaceId, channelId, room.stranger.accessToken),
          "Forbidden",
        ],
        [
          "private channel, not in it",
          chatPath(workspaceId, privateChannelId, room.member.accessToken),
          "Forbidden",
        ],
        ["missing channel", chatPath(workspaceId, 999_999, room.owner.accessToken), "Not Found"],
        ["non-numeric channel", chatPath(workspaceId, "general", room.owner.accessToken), "Not Found"],
        ["zero ids", chatPath(0, 0, room.owner.accessToken), "Not Found"],
      ];
    },
    main: { id: room.channelId, a: room.member, b: room.admin },
    announcesEveryJoin: false,
  };
}

async function dmKind(app: TestApp): Promise<ConversationKind> {
  const cast = await buildCast(app, "conv");
  const thread = await openThread(app, cast.alice, cast.bob, cast.workspaceId);
  const another = async (a: TestUser): Promise<Conversation> => {
    const b = await newMember(app, cast, "ConvB");
    return { id: (await openThread(app, a, b, cast.workspaceId)).id, a, b };
  };
  const idOf = (c: Conversation | number | string) => (typeof c === "object" ? c.id : c);
  return {
    name: "dm",
    fresh: async () => another(await newMember(app, cast, "ConvA")),
    another,
    outsider: cast.carol,
    join: (c, user, options = {}) => joinDm(app, c.id, user, options),
    socketPath: (c, token, extra) => dmPath(c.id, token, extra),
    socketUrl: (c, query) => dmUrl(app, c.id, query),
    endpoint: "/ws/dm/",
    post: (c, user, content, clientId) => postDm(app, user, c.id, content, clientId),
    messagesPath: (c) => `/dm/threads/${idOf(c)}/messages`,
    ...rowsOf(app, { name: "direct_messages", conversation: "thread_id", author: "sender_id" }),
    restShape: (c, user, content, clientId) => messageShape({ thread_id: c.id }, user, content, clientId),
    eventExtras: (_c, author) => ({ sender_id: author.id }),
    conversationField: (c) => ({ thread_id: c.id }),
    readEvent: (c, reader, id) => ({ thread_id: c.id, user_id: reader.id, last_read_message_id: id }),
    async readPointer(c, reader) {
      const res = await as(app, reader).get(`/dm/threads/${c.id}/read-status`);
      expect(res.status, res.text).toBe(200);
      return res.body.self_last_read_message_id;
    },
    readIdsBelowMinimum: [0],
    refusedHandshakes: () => [
      [
        "same workspace, not a participant",
        dmPath(thread.id, cast.carol.accessToken),
        "Not part of this thread",
      ],
      ["another workspace's member", dmPath(thread.id, cast.dave.accessToken), "Not part of this thread"],
      ["in no workspace", dmPath(thread.id, cast.olga.accessToken), "Not part of this thread"],
      ["missing thread", dmPath(2_000_000_000, cast.alice.accessToken), "Thread not found"],
      ["non-numeric thread", dmPath("abc", cast.alice.accessToken), "Thread not found"],
      ["zero", dmPath(0, cast.alice.accessToken), "Thread not found"],
      ["too large", dmPath("99999999999", cast.alice.accessToken), "Thread not found"],
    ],
    main: { id: thread.id, a: cast.bob, b: cast.alice },
    announcesEveryJoin: true,
  };
}

/** The kinds, for `describe.each`: `build` makes the kind's people and places in the app. */
export const KINDS = [
  { kind: "channel", build: channelKind },
  { kind: "dm", build: dmKind },
] as const;
