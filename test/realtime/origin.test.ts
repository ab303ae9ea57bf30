/**
 * The Origin of socket handshakes (issue 13.6), on all three socket endpoints: a browser's
 * handshake (which always carries Origin) must come from one of CORS_ORIGINS, else it is refused
 * with 403 and a detail before any upgrade, valid token or not; a handshake without Origin
 * (servers, mobile apps) is accepted as before.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { buildRoom, openThread, type Room } from "../support/worlds";
import { connectSocket, rawHandshake } from "../support/ws";

let app: TestApp;
let room: Room;
let endpoints: [name: string, path: () => string][];

beforeAll(async () => {
  // startApp allows http://localhost:3000 and http://app.example (CORS_ORIGINS).
  app = await startApp();
  room = await buildRoom(app);
  const thread = await openThread(app, room.owner, room.member, room.workspaceId);
  const token = () => encodeURIComponent(room.owner.accessToken);
  endpoints = [
    ["/ws/notifications", () => `/ws/notifications?token=${token()}`],
    ["/ws/chat", () => `/ws/chat/${room.workspaceId}/${room.channelId}?token=${token()}`],
    ["/ws/dm", () => `/ws/dm/${thread.id}?token=${token()}`],
  ];
});
afterAll(async () => {
  await app?.close();
});

const wsUrl = (path: string) => `${app.url.replace(/^http/, "ws")}${path}`;

describe("socket handshakes and Origin", () => {
  it("accepts an allowed browser origin and a client that sends no Origin, on every endpoint", async () => {
    for (const [name, path] of endpoints) {
      for (const origin of ["http://localhost:3000", "http://app.example", undefined]) {
        const socket = await connectSocket(
          wsUrl(path()),
          origin ? { headers: { Origin: origin } } : {},
        ).catch((error: { status?: number }) => {
          throw new Error(`${name} refused ${origin ?? "no Origin"} with ${error.status}`);
        });
        await socket.close();
      }
    }
  });

  it("refuses a foreign origin with 403 and a detail before the upgrade, even with a valid token", async () => {
    for (const [name, path] of endpoints) {
      for (const origin of [
        "https://evil.example",
        "http://localhost:3001",
        "null",
        "http://app.example.evil.test",
      ]) {
        const refused = await rawHandshake(app.url, path(), { Origin: origin });
        expect(refused, `${name} from ${origin}`).toEqual({
          status: 403,
          body: { detail: "Origin not allowed" },
        });
      }
    }
  });

  it("checks the origin before the token: a foreign page learns nothing about a token", async () => {
    const refused = await rawHandshake(app.url, "/ws/notifications?token=not-a-token", {
      Origin: "https://evil.example",
    });
    expect(refused).toEqual({ status: 403, body: { detail: "Origin not allowed" } });
  });
});
