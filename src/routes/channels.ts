/**
 * Channel routes (docs/http-api.md#channels; docs/original-defects.md#d1-channel-paths): create and list a
 * workspace's channels at both the original's paths and the ones the web client calls; read,
 * rename, set the topic, archive and delete a channel; list, add and remove its members.
 * Presence and messages are served by their own modules.
 */
import { Hono } from "hono";
import { createFactory } from "hono/factory";
import { z } from "zod";
import type { AppEnv } from "../context";
import { requireAuth } from "../http/auth";
import { jsonBody, validate, zId, zName, zQueryBool } from "../http/validation";
import { toChannelMemberRead, toChannelRead } from "../presenters/channels";
import {
  addChannelMember,
  createChannel,
  deleteChannel,
  getChannel,
  listChannelMembers,
  listChannels,
  removeChannelMember,
  updateChannel,
} from "../services/channels";
import { unreadMentionCounts } from "../services/mentions";
import { unreadCounts } from "../services/messages";

export const CHANNEL_NAME_MAX = 80;
export const CHANNEL_TOPIC_MAX = 250;

export const workspaceParam = z.object({ workspace_id: zId() });
export const channelParam = z.object({ channel_id: zId() });
export const channelMemberParam = z.object({ channel_id: zId(), user_id: zId() });

export const channelCreate = z.object({
  name: zName(1, CHANNEL_NAME_MAX),
  is_private: z.boolean().default(false),
});
export const channelList = z.object({ include_archived: zQueryBool().default(false) });
export const channelUpdate = z
  .object({
    name: zName(1, CHANNEL_NAME_MAX).optional(),
    // An empty topic clears it.
    topic: zName(0, CHANNEL_TOPIC_MAX)
      .transform((topic) => topic || null)
      .nullable()
      .optional(),
    is_archived: z.boolean().optional(),
  })
  .refine((body) => Object.values(body).some((value) => value !== undefined), {
    message: "at least one of name, topic, is_archived is required",
  });
export const channelMemberAdd = z.object({ user_id: zId() });

const factory = createFactory<AppEnv>();

const createChannelHandlers = factory.createHandlers(
  requireAuth,
  validate("param", workspaceParam),
  jsonBody(channelCreate),
  async (c) => {
    const body = c.req.valid("json");
    const channel = await createChannel(
      c.var.deps.db,
      c.var.caller.userId,
      c.req.valid("param").workspace_id,
      {
        name: body.name,
        isPrivate: body.is_private,
      },
    );
    return c.json(toChannelRead(channel));
  },
);

const listChannelsHandlers = factory.createHandlers(
  requireAuth,
  validate("param", workspaceParam),
  validate("query", channelList),
  async (c) => {
    const list = await listChannels(c.var.deps.db, c.var.caller.userId, c.req.valid("param").workspace_id, {
      includeArchived: c.req.valid("query").include_archived,
    });
    // Additive: the caller's unread messages and unread mentions per channel (read state).
    const ids = list.map((channel) => channel.id);
    const [unread, mentions] = await Promise.all([
      unreadCounts(c.var.deps.db, c.var.caller.userId, ids),
      unreadMentionCounts(c.var.deps.db, c.var.caller.userId, ids),
    ]);
    return c.json(
      list.map((channel) => ({
        ...toChannelRead(channel),
        unread_count: unread.get(channel.id) ?? 0,
        unread_mention_count: mentions.get(channel.id) ?? 0,
      })),
    );
  },
);

export const channelRoutes = new Hono<AppEnv>()
  // The original's paths and the ones the web client calls (docs/original-defects.md#d1-channel-paths).
  .post("/channels/workspaces/:workspace_id/channels", ...createChannelHandlers)
  .get("/channels/workspaces/:workspace_id/channels", ...listChannelsHandlers)
  .post("/workspaces/:workspace_id/channels", ...createChannelHandlers)
  .get("/workspaces/:workspace_id/channels", ...listChannelsHandlers)

  .get("/channels/:channel_id", requireAuth, validate("param", channelParam), async (c) => {
    const channel = await getChannel(c.var.deps.db, c.var.caller.userId, c.req.valid("param").channel_id);
    return c.json(toChannelRead(channel));
  })

  .patch(
    "/channels/:channel_id",
    requireAuth,
    validate("param", channelParam),
    jsonBody(channelUpdate),
    async (c) => {
      const body = c.req.valid("json");
      const channel = await updateChannel(
        c.var.deps.db,
        c.var.deps,
        c.var.caller.userId,
        c.req.valid("param").channel_id,
        {
          name: body.name,
          topic: body.topic,
          isArchived: body.is_archived,
        },
      );
      return c.json(toChannelRead(channel));
    },
  )

  .delete("/channels/:channel_id", requireAuth, validate("param", channelParam), async (c) => {
    const { channel_id } = c.req.valid("param");
    await deleteChannel(c.var.deps.db, c.var.deps, c.var.caller.userId, channel_id);
    return c.body(null, 204);
  })

  .get("/channels/:channel_id/members", requireAuth, validate("param", channelParam), async (c) => {
    const members = await listChannelMembers(
      c.var.deps.db,
      c.var.caller.userId,
      c.req.valid("param").channel_id,
    );
    return c.json(members.map(toChannelMemberRead));
  })

  .post(
    "/channels/:channel_id/members",
    requireAuth,
    validate("param", channelParam),
    jsonBody(channelMemberAdd),
    async (c) => {
      const member = await addChannelMember(
        c.var.deps.db,
        c.var.deps,
        c.var.caller.userId,
        c.req.valid("param").channel_id,
        c.req.valid("json").user_id,
      );
      return c.json(toChannelMemberRead(member));
    },
  )

  // Removes a member, or leaves the channel when the user is the caller.
  .delete(
    "/channels/:channel_id/members/:user_id",
    requireAuth,
    validate("param", channelMemberParam),
    async (c) => {
      const { channel_id, user_id } = c.req.valid("param");
      await removeChannelMember(c.var.deps.db, c.var.deps, c.var.caller.userId, channel_id, user_id);
      return c.body(null, 204);
    },
  );
