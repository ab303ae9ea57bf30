/**
 * Auth benchmark on the self-hosted stack (bench/lib/deployment.ts): what a login costs (scrypt,
 * by design), the per-request session check (from memory once cached), and refresh rotation.
 * Prints figures; asserts nothing.
 *
 *   npm run bench:auth
 */
import { describeDeployment, startDeployment } from "./lib/deployment";
import { fmt, measure, percentile } from "./lib/stats";

const deployment = await startDeployment();
const base = deployment.api;
const post = (path: string, init: RequestInit) => fetch(`${base}${path}`, { method: "POST", ...init });

function summarise(label: string, result: Awaited<ReturnType<typeof measure>>) {
  const { durations, perSecond } = result;
  return `${label.padEnd(44)} ${fmt(perSecond, 0).padStart(6)} req/s   p50 ${fmt(percentile(durations, 50)).padStart(6)} ms   p99 ${fmt(percentile(durations, 99)).padStart(6)} ms   (n=${durations.length})`;
}

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
    fetch(`${base}/auth/me`, { headers: { Authorization: `Bearer ${tokens[i % tokens.length]}` } }).then(
      async (res) => {
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`me: ${res.status}`);
      },
    );
  await measure(200, 16, me); // warm the session cache and the isolate
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
  console.log(describeDeployment(deployment));
  console.log(summarise("POST /auth/login (scrypt), 4 concurrent", logins));
  console.log(summarise("GET /auth/me, 1 client", meSerial));
  console.log(summarise("GET /auth/me, 16 concurrent (fetch)", meParallel));
  console.log(summarise("POST /auth/refresh (rotation), 4 concurrent", refreshes));
} finally {
  await deployment.stop();
}
