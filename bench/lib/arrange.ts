/**
 * The benchmarks' cast: users (registered and logged in), one workspace they all belong to, and
 * channels, created through the API as the web app would.
 */
import { measure } from "./stats";

export interface User {
  id: number;
  token: string;
  displayName: string;
}

export interface Arrangement {
  users: User[];
  workspaceId: number;
  /** Channel ids by name. */
  channels: Record<string, number>;
}

interface CallOptions {
  token?: string;
  json?: unknown;
  form?: Record<string, string>;
}

export async function call(
  base: string,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.form) {
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(options.form).toString();
  }
  const res = await fetch(`${base}${path}`, { method, headers, body, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed };
}

export async function ok(base: string, method: string, path: string, options: CallOptions = {}) {
  const res = await call(base, method, path, options);
  if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * Registers `userCount` users (two scrypt runs each: registration and login), makes the first one
 * the owner of a workspace the others join by invitation, and creates the named channels.
 */
export async function arrange(base: string, userCount: number, channelNames: string[]): Promise<Arrangement> {
  const run = Date.now().toString(36);
  const users: User[] = new Array(userCount);
  await measure(userCount, 4, async (i) => {
    const email = `bench-${run}-${i}@example.com`;
    const password = "bench password";
    const reg = await ok(base, "POST", "/auth/register", {
      json: { email, password, display_name: `Bench ${run} ${i}` },
    });
    const tokens = await ok(base, "POST", "/auth/login", { form: { username: email, password } });
    users[i] = { id: reg.id, token: tokens.access_token, displayName: reg.display_name };
  });
  const owner = users[0] as User;
  const ws = await ok(base, "POST", "/workspaces", { token: owner.token, json: { name: `Bench ${run}` } });
  await measure(userCount - 1, 8, async (i) => {
    const user = users[i + 1] as User;
    const invite = await ok(base, "POST", `/workspaces/${ws.id}/invites`, {
      token: owner.token,
      json: { invitee_display_name: user.displayName },
    });
    await ok(base, "POST", `/invites/${invite.id}/accept`, { token: user.token });
  });
  const channels: Record<string, number> = {};
  for (const name of channelNames) {
    const channel = await ok(base, "POST", `/workspaces/${ws.id}/channels`, {
      token: owner.token,
      json: { name: `${name}-${run}` },
    });
    channels[name] = channel.id;
  }
  return { users, workspaceId: ws.id, channels };
}

/** The channel named `name` of the arrangement (an error if it was not created). */
export function channel(arrangement: Arrangement, name: string): number {
  const id = arrangement.channels[name];
  if (id === undefined) throw new Error(`no channel "${name}" was arranged`);
  return id;
}
