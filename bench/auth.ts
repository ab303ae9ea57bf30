/**
 * Auth benchmark: what a login costs (scrypt by design), and what the per-request session
 * check costs once its verdict is cached in the store. Prints figures; asserts nothing.
 *
 *   npm run bench:auth
 */
import { measure, startStack, summarise } from "./lib/stack";

const stack = await startStack();
const post = (path: string, init: RequestInit) => fetch(`${stack.url}${path}`, { method: "POST", ...init });

try {
  const users = Array.from({ length: 16 }, (_, i) => ({
    email: `bench${i}@example.com`,
    password: "bench password",
  }));
  for (const [i, user] of users.entries()) {
    const res = await post("/auth/register", {
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ...user, display_name: `Bench ${i}` }),
    });
    if (!res.ok) throw new Error(`register: ${res.status} ${await res.text()}`);
  }
  const loginForm = (i: number) =>
    new URLSearchParams({ username: users[i % users.length]?.email ?? "", password: "bench password" });
  const tokens: string[] = [];
  const refreshTokens: string[] = [];

  const logins = await measure(64, 4, async (i) => {
    const res = await post("/auth/login", { body: loginForm(i) });
    const body = (await res.json()) as { access_token: string; refresh_token: string };
    if (!res.ok) throw new Error(`login: ${res.status}`);
    tokens.push(body.access_token);
    refreshTokens.push(body.refresh_token);
  });

  const me = (i: number) =>
    fetch(`${stack.url}/auth/me`, { headers: { Authorization: `Bearer ${tokens[i % tokens.length]}` } }).then(
      async (res) => {
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`me: ${res.status}`);
      },
    );
  await measure(200, 16, me); // warm the session cache and the isolates
  const meSerial = await measure(300, 1, me);
  const meParallel = await measure(3000, 16, me);

  const refreshes = await measure(refreshTokens.length, 4, async (i) => {
    const res = await post("/auth/refresh", {
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: refreshTokens[i] }),
    });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`refresh: ${res.status}`);
  });

  console.log(`auth benchmark (${new Date().toISOString()}, ${process.platform}, node ${process.version})`);
  console.log(summarise("POST /auth/login (scrypt), 4 concurrent", logins));
  console.log(summarise("GET /auth/me, 1 client", meSerial));
  console.log(summarise("GET /auth/me, 16 concurrent", meParallel));
  console.log(summarise("POST /auth/refresh (rotation), 4 concurrent", refreshes));
} finally {
  await stack.stop();
}
