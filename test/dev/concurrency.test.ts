/**
 * `npm run dev`'s embedded database under the concurrency of a real web app: several users in several
 * tabs, sockets open, requests overlapping. The PGlite it replaced served every connection from one
 * session, and under such load queries of different connections crossed: 500s (08P01, 22P02), and
 * worse, 200s with wrong answers (an empty workspace list, lost direct messages and read receipts).
 *
 * The dev server is started as a user starts it (tsx scripts/dev.ts, nothing configured but the rate
 * limits, switched off in its .dev.vars so that the load is not refused). Then ROUNDS rounds of
 * REQUESTS_PER_ROUND requests at once, of every kind the web app sends, by several users, while
 * sockets receive the broadcasts and new sockets send their very first frame. Every answer is checked:
 * no 5xx, the expected status, and the right content (each user lists exactly their workspaces, every
 * message posted is listed and broadcast exactly once, read pointers keep what was marked).
 */
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiResponse, type RequestOptions, request } from "../support/http";
import { connectSocket, type SocketFrame, type TestSocket } from "../support/ws";
import {
  freePort,
  makeDataDir,
  portIsFree,
  processesMentioning,
  type Started,
  startDev,
  stopGroup,
  WORKER_SETTINGS_TO_CLEAR,
  waitFor200,
} from "./dev-process";

const ROUNDS = 10;
const REQUESTS_PER_ROUND = 50;
const USERS = 6;
/** Sockets opened per round that send a message as their very first frame. */
const FIRST_FRAME_SOCKETS_PER_ROUND = 2;

interface User {
  id: number;
  /** The handle ("name#1234") invites address. */
  displayName: string;
  email: string;
  password: string;
  token: string;
}

interface Message {
  id: number;
  content: string;
  client_id?: string | null;
}

/** Every request goes through here: its status is counted, and an unexpected one is a failure. */
class Client {
  readonly statuses = new Map<number, number>();
  readonly failures: string[] = [];
  requests = 0;

  constructor(private readonly base: string) {}

  async call<T = any>(
    what: string,
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<ApiResponse<T> | undefined> {
    this.requests += 1;
    let res: ApiResponse<T>;
    try {
      res = await request<T>({ fetch: (p, init) => fetch(`${this.base}${p}`, init) }, method, path, options);
    } catch (error) {
      this.failures.push(`${what}: ${method} ${path} failed: ${(error as Error).message}`);
      return undefined;
    }
    this.statuses.set(res.status, (this.statuses.get(res.status) ?? 0) + 1);
    if (res.status !== 200) {
      this.failures.push(`${what}: ${method} ${path} answered ${res.status} ${res.text.slice(0, 300)}`);
      return undefined;
    }
    return res;
  }

  /** A check of an answer's content; `problem` undefined means it is right. */
  expect(what: string, problem: string | undefined): void {
    if (problem !== undefined) this.failures.push(`${what}: ${problem}`);
  }

  serverErrors(): number {
    return [...this.statuses].filter(([status]) => status >= 500).reduce((sum, [, n]) => sum + n, 0);
  }
}

/** Collects the `message` frames of a socket by id, counting duplicates. */
function collectMessages(socket: TestSocket) {
  const seen = new Map<number, number>();
  const errors: SocketFrame[] = [];
  socket.socket.on("message", (data) => {
    const frame = JSON.parse(data.toString()) as SocketFrame;
    if (frame.type === "message") {
      const id = (frame.payload as Message).id;
      seen.set(id, (seen.get(id) ?? 0) + 1);
    } else if (frame.type === "error") errors.push(frame);
  });
  return { seen, errors };
}

const sameSet = (a: Iterable<number>, b: Iterable<number>) => {
  const left = [...new Set(a)].sort((x, y) => x - y);
  const right = [...new Set(b)].sort((x, y) => x - y);
  return JSON.stringify(left) === JSON.stringify(right);
};

describe("npm run dev under concurrent use", () => {
  let dataDir: string;
  let apiPort: number;
  let pgPort: number;
  let dev: Started | undefined;
  const base = () => `http://127.0.0.1:${apiPort}`;
  const wsBase = () => `ws://127.0.0.1:${apiPort}`;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    dataDir = makeDataDir("dev-load");
    apiPort = await freePort();
    pgPort = await freePort();
    const devVars = path.join(dataDir, "dev.vars");
    writeFileSync(devVars, "RATE_LIMITS_ENABLED=false\n");
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const key of WORKER_SETTINGS_TO_CLEAR) delete env[key];
    Object.assign(env, {
      DATA_DIR: dataDir,
      PORT: String(apiPort),
      EMBEDDED_PG_PORT: String(pgPort),
      DEV_VARS_FILE: devVars,
    });
    dev = startDev(env);
    await waitFor200(`${base()}/readyz`, dev);
  });

  afterAll(async () => {
    for (const socket of sockets) socket.socket.terminate();
    await stopGroup(dev).catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(`answers ${ROUNDS} rounds of ${REQUESTS_PER_ROUND} parallel requests and sockets without a 5xx or a wrong answer`, async () => {
    const client = new Client(base());
    const label = randomBytes(3).toString("hex");

    const register = async (name: string): Promise<User | undefined> => {
      const email = `${name}-${label}@example.com`;
      const password = "correct horse battery";
      const created = await client.call("register", "POST", "/auth/register", {
        json: { email, password, display_name: `${name} ${label}` },
      });
      if (!created) return undefined;
      const tokens = await client.call<{ access_token: string }>("login", "POST", "/auth/login", {
        form: { grant_type: "password", username: email, password },
      });
      return (
        tokens && {
          id: created.body.id,
          displayName: created.body.display_name,
          email,
          password,
          token: tokens.body.access_token,
        }
      );
    };

    // ---- Arrange, concurrently too: users, a shared workspace with a channel, a DM thread ----------
    const users = (await Promise.all(Array.from({ length: USERS }, (_, i) => register(`user${i}`)))).filter(
      (u): u is User => u !== undefined,
    );
    expect(client.failures).toEqual([]);
    const [owner, peer] = users as [User, User];
    const workspacesOf = new Map<number, Set<number>>(users.map((u) => [u.id, new Set()]));
    const shared = await client.call("shared workspace", "POST", "/workspaces", {
      token: owner.token,
      json: { name: `Shared ${label}` },
    });
    const workspaceId = shared?.body.id as number;
    for (const u of users) workspacesOf.get(u.id)?.add(workspaceId);
    await Promise.all(
      users.slice(1).map(async (u) => {
        const invite = await client.call("invite", "POST", `/workspaces/${workspaceId}/invites`, {
          token: owner.token,
          json: { invitee_display_name: u.displayName },
        });
        await client.call("accept", "POST", `/invites/${invite?.body.id}/accept`, { token: u.token });
      }),
    );
    const channel = await client.call("channel", "POST", `/workspaces/${workspaceId}/channels`, {
      token: owner.token,
      json: { name: `general-${label}` },
    });
    const channelId = channel?.body.id as number;
    const thread = await client.call("thread", "POST", "/dm/threads", {
      token: owner.token,
      json: { workspace_id: workspaceId, user_id: peer.id },
    });
    const threadId = thread?.body.id as number;
    expect(client.failures).toEqual([]);

    // Sockets that stay open and must receive every broadcast exactly once.
    const listeners = await Promise.all(
      users
        .slice(2, 5)
        .map((u) =>
          connectSocket(
            `${wsBase()}/ws/chat/${workspaceId}/${channelId}?token=${encodeURIComponent(u.token)}`,
          ),
        ),
    );
    const dmListener = await connectSocket(
      `${wsBase()}/ws/dm/${threadId}?token=${encodeURIComponent(peer.token)}`,
    );
    sockets.push(...listeners, dmListener);
    const channelSeen = listeners.map(collectMessages);
    const dmSeen = collectMessages(dmListener);

    const channelPosted = new Map<number, string>();
    const dmPosted = new Map<number, string>();
    const readMarked = new Map<number, number>(); // user id -> highest id it marked read
    let newcomer = await register("newcomer0");
    let socketsOpened = 0;
    const started = Date.now();

    for (let round = 1; round <= ROUNDS; round++) {
      const before = new Map([...workspacesOf].map(([id, set]) => [id, new Set(set)]));
      const created = new Map<number, Set<number>>(users.map((u) => [u.id, new Set()]));
      const knownChannelIds = [...channelPosted.keys()];
      const knownDmIds = [...dmPosted.keys()];
      const userAt = (i: number) => users[(round + i) % users.length] as User;
      const ops: Array<() => Promise<void>> = [];

      // 6 workspaces created, 6 lists: a list holds every workspace the user had before the round, and
      // besides those only workspaces the user creates in this round (whose POST may not have answered yet).
      const namesOf = new Map<number, Set<string>>(users.map((u) => [u.id, new Set()]));
      for (let i = 0; i < 6; i++) {
        const u = userAt(i);
        const name = `W ${label} r${round} #${i}`;
        namesOf.get(u.id)?.add(name);
        ops.push(async () => {
          const res = await client.call("create workspace", "POST", "/workspaces", {
            token: u.token,
            json: { name },
          });
          if (res) created.get(u.id)?.add(res.body.id);
        });
        ops.push(async () => {
          const res = await client.call<{ id: number; name: string }[]>(
            "list workspaces",
            "GET",
            "/workspaces",
            {
              token: u.token,
            },
          );
          if (!res) return;
          const had = before.get(u.id) ?? new Set<number>();
          const listed = new Set(res.body.map((w) => w.id));
          const missing = [...had].filter((id) => !listed.has(id));
          const foreign = res.body.filter((w) => !had.has(w.id) && !namesOf.get(u.id)?.has(w.name));
          client.expect(
            `GET /workspaces of user ${u.id} in round ${round}`,
            missing.length + foreign.length > 0
              ? `missing ${missing.join(", ") || "none"}; not the user's: ${JSON.stringify(foreign)}`
              : undefined,
          );
        });
      }

      // 10 channel posts, 6 channel pages.
      for (let i = 0; i < 10; i++) {
        const u = userAt(i);
        const content = `channel r${round} #${i} by ${u.id}`;
        ops.push(async () => {
          const res = await client.call<Message>(
            "post channel message",
            "POST",
            `/channels/${channelId}/messages`,
            {
              token: u.token,
              json: { content },
            },
          );
          if (!res) return;
          client.expect(
            "posted channel message",
            res.body.content === content ? undefined : `got ${JSON.stringify(res.body)}`,
          );
          channelPosted.set(res.body.id, content);
        });
      }
      for (let i = 0; i < 6; i++) {
        const u = userAt(i);
        ops.push(async () => {
          const res = await client.call<Message[]>(
            "list channel messages",
            "GET",
            `/channels/${channelId}/messages?limit=100`,
            { token: u.token },
          );
          if (res)
            client.expect(
              `channel page in round ${round}`,
              checkPage(res.body, channelPosted, knownChannelIds),
            );
        });
      }
      // 6 direct messages, 3 pages, 2 read receipts (each side marks what it had seen before the round).
      for (let i = 0; i < 6; i++) {
        const u = i % 2 === 0 ? owner : peer;
        const content = `dm r${round} #${i} by ${u.id}`;
        ops.push(async () => {
          const res = await client.call<Message>("post DM", "POST", `/dm/threads/${threadId}/messages`, {
            token: u.token,
            json: { content },
          });
          if (!res) return;
          client.expect(
            "posted DM",
            res.body.content === content ? undefined : `got ${JSON.stringify(res.body)}`,
          );
          dmPosted.set(res.body.id, content);
        });
      }
      for (let i = 0; i < 3; i++) {
        const u = i % 2 === 0 ? owner : peer;
        ops.push(async () => {
          const res = await client.call<Message[]>(
            "list DMs",
            "GET",
            `/dm/threads/${threadId}/messages?limit=100`,
            { token: u.token },
          );
          if (res) client.expect(`DM page in round ${round}`, checkPage(res.body, dmPosted, knownDmIds));
        });
      }
      for (const u of [owner, peer]) {
        const upTo = Math.max(0, ...knownDmIds);
        ops.push(async () => {
          const res = await client.call<{ self_last_read_message_id: number }>(
            "mark read",
            "POST",
            `/dm/threads/${threadId}/read`,
            {
              token: u.token,
              json: { last_read_message_id: upTo },
            },
          );
          if (!res) return;
          readMarked.set(u.id, Math.max(readMarked.get(u.id) ?? 0, upTo));
          client.expect(
            `read pointer of user ${u.id} in round ${round}`,
            res.body.self_last_read_message_id >= upTo
              ? undefined
              : `went back to ${res.body.self_last_read_message_id} (marked ${upTo})`,
          );
        });
      }
      // Who am I, for every user: an answer about another user would be a crossed query.
      for (const u of users) {
        ops.push(async () => {
          const res = await client.call<{ id: number; email: string }>("me", "GET", "/auth/me", {
            token: u.token,
          });
          if (res)
            client.expect(
              `GET /auth/me of user ${u.id}`,
              res.body.id === u.id && res.body.email === u.email
                ? undefined
                : `got ${JSON.stringify(res.body)}`,
            );
        });
      }
      // 2 logins, 1 registration (2 requests), and the previous newcomer lists no workspace.
      for (const u of [userAt(0), userAt(3)]) {
        ops.push(async () => {
          await client.call("login", "POST", "/auth/login", {
            form: { grant_type: "password", username: u.email, password: u.password },
          });
        });
      }
      ops.push(async () => {
        const fresh = await register(`newcomer${round}`);
        if (fresh) newcomer = fresh;
      });
      if (newcomer) {
        const u = newcomer;
        ops.push(async () => {
          const res = await client.call<unknown[]>("newcomer's workspaces", "GET", "/workspaces", {
            token: u.token,
          });
          if (res)
            client.expect(
              `GET /workspaces of newcomer ${u.id}`,
              res.body.length === 0 ? undefined : `got ${JSON.stringify(res.body)}`,
            );
        });
      }
      // Sockets whose very first frame is a message: it must come back as a broadcast, not as an error.
      for (let i = 0; i < FIRST_FRAME_SOCKETS_PER_ROUND; i++) {
        const u = userAt(i + 1);
        const clientId = `first-frame-${round}-${i}`;
        ops.push(async () => {
          socketsOpened += 1;
          let socket: TestSocket;
          try {
            socket = await connectSocket(
              `${wsBase()}/ws/chat/${workspaceId}/${channelId}?token=${encodeURIComponent(u.token)}`,
            );
          } catch (error) {
            client.failures.push(`socket of user ${u.id}: ${(error as Error).message}`);
            return;
          }
          socket.send({ type: "message", content: `socket r${round} #${i}`, client_id: clientId });
          try {
            for (;;) {
              const frame = await socket.next(undefined, 15_000);
              if (frame.type === "error") {
                client.failures.push(
                  `first frame of socket ${clientId}: error ${JSON.stringify(frame.payload)}`,
                );
                return;
              }
              const payload = frame.payload as Message | undefined;
              if (frame.type === "message" && payload?.client_id === clientId) {
                channelPosted.set(payload.id, payload.content);
                return;
              }
            }
          } catch (error) {
            client.failures.push(`first frame of socket ${clientId}: ${(error as Error).message}`);
          } finally {
            await socket.close();
          }
        });
      }

      const requestsBefore = client.requests;
      await Promise.all(ops.map((op) => op()));
      expect(client.requests - requestsBefore).toBe(REQUESTS_PER_ROUND);
      for (const [id, set] of created) for (const w of set) workspacesOf.get(id)?.add(w);
    }
    const elapsed = Date.now() - started;

    // ---- Afterwards: every list exact, every message listed and broadcast exactly once ---------------
    for (const u of users) {
      const res = await client.call<{ id: number }[]>("final workspaces", "GET", "/workspaces", {
        token: u.token,
      });
      if (res) {
        client.expect(
          `final GET /workspaces of user ${u.id}`,
          sameSet(
            res.body.map((w) => w.id),
            workspacesOf.get(u.id) ?? [],
          )
            ? undefined
            : `listed ${res.body.map((w) => w.id).join(", ")}`,
        );
      }
    }
    const allChannel = await allPages(client, `/channels/${channelId}/messages`, owner.token);
    client.expect("every channel message listed once", exactlyOnce(allChannel, channelPosted));
    const allDms = await allPages(client, `/dm/threads/${threadId}/messages`, peer.token);
    client.expect("every DM listed once", exactlyOnce(allDms, dmPosted));
    for (const u of [owner, peer]) {
      const res = await client.call<{ self_last_read_message_id: number }>(
        "read status",
        "GET",
        `/dm/threads/${threadId}/read-status`,
        { token: u.token },
      );
      if (res) {
        client.expect(
          `read pointer of user ${u.id}`,
          res.body.self_last_read_message_id === (readMarked.get(u.id) ?? 0)
            ? undefined
            : `is ${res.body.self_last_read_message_id}, marked ${readMarked.get(u.id)}`,
        );
      }
    }
    // Sockets: every broadcast exactly once (they may still be arriving).
    const deadline = Date.now() + 15_000;
    const complete = () =>
      channelSeen.every((s) => sameSet(s.seen.keys(), channelPosted.keys())) &&
      sameSet(dmSeen.seen.keys(), dmPosted.keys());
    while (!complete() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    for (const [i, s] of [...channelSeen, dmSeen].entries()) {
      const expected = i < channelSeen.length ? channelPosted : dmPosted;
      const missing = [...expected.keys()].filter((id) => !s.seen.has(id));
      const doubled = [...s.seen].filter(([, n]) => n > 1).map(([id]) => id);
      const unknown = [...s.seen.keys()].filter((id) => !expected.has(id));
      client.expect(
        `listener socket ${i}`,
        missing.length + doubled.length + unknown.length + s.errors.length > 0
          ? `missing ${missing.length}, doubled ${doubled.length}, unknown ${unknown.length}, errors ${JSON.stringify(s.errors)}`
          : undefined,
      );
    }

    const statuses = [...client.statuses].map(([status, n]) => `${status}: ${n}`).join(", ");
    console.info(
      `dev server under load: ${ROUNDS} rounds of ${REQUESTS_PER_ROUND} parallel requests and ` +
        `${FIRST_FRAME_SOCKETS_PER_ROUND} new sockets in ${elapsed} ms; ${client.requests} requests in all ` +
        `(${statuses}); 5xx: ${client.serverErrors()}; ${channelPosted.size} channel messages and ` +
        `${dmPosted.size} DMs, ${socketsOpened} first-frame sockets`,
    );
    expect(client.serverErrors()).toBe(0);
    expect(client.failures).toEqual([]);
    expect(channelPosted.size).toBe(ROUNDS * (10 + FIRST_FRAME_SOCKETS_PER_ROUND));
    expect(dmPosted.size).toBe(ROUNDS * 6);

    // And it all stops on Ctrl+C, database included.
    for (const socket of sockets.splice(0)) await socket.close();
    expect(await stopGroup(dev, "SIGINT")).toBe(130);
    expect(await portIsFree(apiPort)).toBe(true);
    expect(await portIsFree(pgPort)).toBe(true);
    expect(processesMentioning(dataDir)).toEqual([]);
  }, 300_000);
});

/** A page of messages: no duplicate, each one with the content it was posted with, the older ones all there. */
function checkPage(page: Message[], posted: Map<number, string>, knownBefore: number[]): string | undefined {
  const ids = page.map((m) => m.id);
  if (new Set(ids).size !== ids.length) return `duplicates in ${ids.join(", ")}`;
  for (const m of page) {
    const content = posted.get(m.id);
    // Posted during this round and not yet answered: its content is checked at the end.
    if (content !== undefined && content !== m.content)
      return `message ${m.id} reads "${m.content}", posted "${content}"`;
  }
  const newestKnown = [...knownBefore].sort((a, b) => b - a).slice(0, 100 - 30);
  const missing = newestKnown.filter((id) => !ids.includes(id));
  return missing.length > 0
    ? `missing ${missing.length} earlier messages (${missing.slice(0, 5).join(", ")}...)`
    : undefined;
}

/** Every page of a message list, oldest first, following `before_id`. */
async function allPages(client: Client, path: string, token: string): Promise<Message[]> {
  const all: Message[] = [];
  let beforeId: number | undefined;
  for (;;) {
    const res = await client.call<Message[]>(
      "page",
      "GET",
      `${path}?limit=100${beforeId ? `&before_id=${beforeId}` : ""}`,
      { token },
    );
    if (!res || res.body.length === 0) return all;
    all.unshift(...res.body);
    beforeId = Math.min(...res.body.map((m) => m.id));
  }
}

function exactlyOnce(listed: Message[], posted: Map<number, string>): string | undefined {
  const counts = new Map<number, number>();
  for (const m of listed) counts.set(m.id, (counts.get(m.id) ?? 0) + 1);
  const doubled = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
  const missing = [...posted.keys()].filter((id) => !counts.has(id));
  const unknown = [...counts.keys()].filter((id) => !posted.has(id));
  const wrong = listed.filter((m) => posted.has(m.id) && posted.get(m.id) !== m.content).map((m) => m.id);
  return doubled.length + missing.length + unknown.length + wrong.length > 0
    ? `doubled ${doubled.join(", ")}; missing ${missing.join(", ")}; unknown ${unknown.join(", ")}; wrong content ${wrong.join(", ")}`
    : undefined;
}
