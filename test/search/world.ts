/**
 * Arranging search tests through the public API: the threads world (test/threads/world.ts: a
 * workspace with an owner, an admin and a member, a member removed from the workspace, an
 * outsider, another workspace's member, a public and a private channel, the owner's DM thread with
 * the member), plus `leaver`, who was in the private channel and was removed from it, and the
 * helpers to search and to open a hit through the messages routes.
 */
import { expect } from "vitest";
import type { TestApp } from "../support/app";
import { as, ok } from "../support/http";
import type { TestUser } from "../support/users";
import { invite } from "../support/worlds";
import { buildWorld as buildThreadsWorld, type World as ThreadsWorld } from "../threads/world";

export interface World extends ThreadsWorld {
  /** A workspace member who was in the private channel, then removed from it. */
  leaver: TestUser;
}

export interface Hit {
  conversation_kind: "channel" | "dm";
  conversation_id: number;
  workspace_id: number | null;
  message_id: number;
  parent_id: number | null;
  sender: { id: number; display_name: string; avatar_url: string | null };
  created_at: string;
  snippet: string;
  rank: number;
}

export interface Page {
  results: Hit[];
  next_cursor: string | null;
}

export async function buildWorld(app: TestApp, leaver: TestUser): Promise<World> {
  const world = await buildThreadsWorld(app);
  await invite(app, world.owner, world.workspaceId, leaver);
  await ok(
    as(app, world.owner).post(`/channels/${world.privateChannelId}/members`, {
      json: { user_id: leaver.id },
    }),
    "add to the private channel",
  );
  return { ...world, leaver };
}

/** Removes a user from a channel (as its workspace's owner). */
export async function removeFromChannel(app: TestApp, owner: TestUser, channelId: number, userId: number) {
  const res = await as(app, owner).delete(`/channels/${channelId}/members/${userId}`);
  expect(res.status, res.text).toBe(204);
}

/** GET /search/messages as `user` with these parameters; the raw answer. */
export function search(app: TestApp, user: TestUser | undefined, params: Record<string, string | number>) {
  const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
  return as(app, user).get(`/search/messages?${query}`);
}

/** The page, failing the test unless 200. */
export async function searchPage(
  app: TestApp,
  user: TestUser,
  params: Record<string, string | number>,
): Promise<Page> {
  const res = await search(app, user, params);
  expect(res.status, res.text).toBe(200);
  return res.body as Page;
}

/** Every hit over all pages (at most `maxPages`), following next_cursor. */
export async function allHits(
  app: TestApp,
  user: TestUser,
  params: Record<string, string | number>,
  maxPages = 100,
): Promise<Hit[]> {
  const hits: Hit[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < maxPages; page += 1) {
    const body: Page = await searchPage(app, user, cursor ? { ...params, cursor } : params);
    hits.push(...body.results);
    cursor = body.next_cursor;
    if (!cursor) return hits;
  }
  throw new Error(`more than ${maxPages} pages`);
}

/**
 * Opens a hit as `user` through the messages routes (history from just before it: the page's
 * first message is the hit's) and returns the message, or the status when it cannot be opened.
 */
export async function openHit(app: TestApp, user: TestUser, hit: Hit) {
  const base =
    hit.conversation_kind === "channel"
      ? `/channels/${hit.conversation_id}/messages`
      : `/dm/threads/${hit.conversation_id}/messages`;
  const res = await as(app, user).get(`${base}?after_id=${hit.message_id - 1}&limit=1`);
  if (res.status !== 200) return { status: res.status, message: undefined };
  const [message] = res.body as { id: number; content: string; is_deleted: boolean }[];
  return { status: 200, message: message?.id === hit.message_id ? message : undefined };
}
