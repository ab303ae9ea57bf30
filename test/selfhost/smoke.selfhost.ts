/**
 * The self-hosted stack, end to end through nginx over HTTPS and WSS (`npm run test:selfhost`):
 * docker-compose.yml's services run on this machine with their own commands, environments and
 * configuration files (test/selfhost/stack.ts), a self-signed certificate standing in for
 * Let's Encrypt. Then: redirect and security headers, the documentation (its policy and caching
 * through nginx, /docs in Chromium), register, log in, a workspace and a channel, a message
 * broadcast to two sockets, a restart of workerd that keeps the data, the messages, the
 * sessions and the Durable Objects' storage, and the certificate's life cycle (certbot's script
 * with a stand-in for certbot, the deploy hook, nginx reloading by itself).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { documentOperations, openDocsPage, renderedOperations } from "../docs/swagger-ui";
import type { OpenApiDocument } from "../openapi/support";
import {
  chromiumAvailable,
  misbehaviour,
  openWatchedPage,
  startChromium,
  WELL_BEHAVED,
} from "../support/browser";
import { createTestDatabase } from "../support/database";
import { freePort } from "../support/store";
import { type ChatSocket, call, openSocket, servedCertificate } from "./clients";
import { readRepoFile, renderTemplate, repoPath } from "./files";
import { ManagedProcess, waitFor } from "./processes";
import { DOMAIN, nginxFrame, type SelfHostStack, selfSignedCertificate, startSelfHostStack } from "./stack";

let stack: SelfHostStack;
const hasBrowser = chromiumAvailable();
let failed = false;
const started = Date.now();

beforeAll(async () => {
  stack = await startSelfHostStack();
  console.info(
    `selfhost: stack up in ${Date.now() - started} ms (${stack.processes.map((p) => p.name).join(", ")})`,
  );
});

afterEach((context) => {
  if (context.task.result?.state === "fail") failed = true;
});

afterAll(async () => {
  if (failed && stack) console.error(`selfhost: output of the stack's processes\n${stack.logs()}`);
  await stack?.stop();
});

const api = (method: string, path: string, options: Parameters<typeof call>[3] = {}) =>
  call(stack.endpoint, method, path, options);

async function ok(method: string, path: string, options: Parameters<typeof call>[3] = {}) {
  const res = await api(method, path, options);
  if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
  return res.body;
}

/** The SHA-256 fingerprint of a PEM certificate, as Node's getPeerCertificate() spells it. */
function fingerprintOf(pemPath: string): string {
  const out = execFileSync("openssl", ["x509", "-noout", "-fingerprint", "-sha256", "-in", pemPath], {
    encoding: "utf8",
  });
  return out.trim().split("=")[1] as string;
}

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "strict-origin-when-cross-origin",
  "content-security-policy": "frame-ancestors 'none'",
};

describe("nginx (deploy/nginx/)", () => {
  it("redirects plain HTTP to HTTPS on the domain, but serves Let's Encrypt's challenge", async () => {
    const redirect = await api("GET", "/workspaces?x=1", { plain: true });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe(`https://${DOMAIN}/workspaces?x=1`);
    // Whatever Host a client sends, the redirect goes to the configured domain.
    const other = await api("GET", "/", { plain: true, headers: { Host: "evil.example" } });
    expect(other.headers.location).toBe(`https://${DOMAIN}/`);

    writeFileSync(join(stack.paths.webroot, ".well-known/acme-challenge/token-123"), "token-123.key");
    chmodSync(join(stack.paths.webroot, ".well-known/acme-challenge/token-123"), 0o644);
    const challenge = await api("GET", "/.well-known/acme-challenge/token-123", { plain: true });
    expect(challenge.status).toBe(200);
    expect(challenge.text).toBe("token-123.key");
    expect((await api("GET", "/.well-known/acme-challenge/missing", { plain: true })).status).toBe(404);
  });

  it("answers over HTTPS with HSTS and the security headers, errors included, without its version", async () => {
    for (const [path, status] of [
      ["/health", 200],
      ["/no-such-route", 404],
    ] as const) {
      const res = await api("GET", path);
      expect(res.status, path).toBe(status);
      expect(res.headers["strict-transport-security"], path).toBe("max-age=63072000; includeSubDomains");
      expect(res.headers, path).toMatchObject(SECURITY_HEADERS);
      expect(res.headers.server, path).toBe("nginx");
    }
  });

  it("is ready behind it: PostgreSQL through pgbouncer, Redis through the bridge", async () => {
    expect(await ok("GET", "/readyz")).toEqual({ status: "ok", db: "ok", redis: "ok" });
  });

  it("accepts the local override's template, which serves plain HTTP without HSTS", async () => {
    const prefix = join(stack.paths.tmp, "nginx-local");
    const conf = join(prefix, "conf");
    mkdirSync(join(conf, "conf.d"), { recursive: true });
    mkdirSync(join(prefix, "temp"), { mode: 0o777 });
    chmodSync(join(prefix, "temp"), 0o777);
    const httpPort = await freePort();
    writeFileSync(
      join(conf, "conf.d/default.conf"),
      renderTemplate(readRepoFile("deploy/nginx/local/default.conf.template"), {
        ...stack.nginxVariables,
        NGINX_HTTP_PORT: `127.0.0.1:${httpPort}`,
      }),
    );
    cpSync(repoPath("deploy/nginx/braumchat"), join(conf, "braumchat"), { recursive: true });
    writeFileSync(
      join(conf, "nginx.conf"),
      nginxFrame(prefix, join(prefix, "nginx.pid"), join(prefix, "temp")),
    );
    const args = ["-p", `${prefix}/`, "-c", join(conf, "nginx.conf"), "-e", "stderr"];
    execFileSync("nginx", ["-t", "-q", ...args], { env: stack.baseEnv });
    const local = new ManagedProcess("nginx (local)", "nginx", args, { env: stack.baseEnv, group: true });
    try {
      const endpoint = { ...stack.endpoint, httpPort };
      const res = await waitFor("the local nginx", async () => {
        const r = await call(endpoint, "GET", "/readyz", { plain: true });
        return r.status === 200 ? r : undefined;
      });
      expect(res.headers).toMatchObject(SECURITY_HEADERS);
      expect(res.headers["strict-transport-security"]).toBeUndefined();
    } finally {
      await local.stop();
    }
  });
});

describe("the documentation through nginx", () => {
  const { "content-security-policy": _framingOnly, ...OTHER_SECURITY_HEADERS } = SECURITY_HEADERS;

  it("passes the API's Content-Security-Policy on /docs and its files, once, and their caching", async () => {
    const page = await api("GET", "/docs");
    expect(page.status).toBe(200);
    const policy = String(page.headers["content-security-policy"]);
    // The API's policy, not nginx's framing-only one, and not both (one header).
    expect(policy).toMatch(/^default-src 'none'; script-src 'self'; /);
    expect(policy.match(/frame-ancestors/g)).toHaveLength(1);
    expect(page.headers).toMatchObject(OTHER_SECURITY_HEADERS);
    const files = [...page.text.matchAll(/\/docs\/assets\/[^"]+/g)].map((match) => match[0]);
    expect(files).toHaveLength(3);
    for (const file of files) {
      const res = await api("GET", file);
      expect(res.status, file).toBe(200);
      expect(res.headers["cache-control"], file).toBe("public, max-age=31536000, immutable");
      expect(res.headers["content-security-policy"], file).toBe(policy);
      expect(res.headers, file).toMatchObject(OTHER_SECURITY_HEADERS);
    }
  });

  it.skipIf(!hasBrowser)("renders in Chromium over HTTPS, with no request to another host", async () => {
    const { browser, proxy } = await startChromium();
    try {
      const port = stack.endpoint.httpsPort;
      const origin = `https://${DOMAIN}:${port}`;
      // The proxy tunnels the domain to nginx; the certificate is the stack's self-signed one.
      const watched = await openWatchedPage(browser, proxy, origin, `https://127.0.0.1:${port}`, {
        ignoreHTTPSErrors: true,
      });
      const expected = documentOperations((await ok("GET", "/openapi.json")) as OpenApiDocument);
      const response = await openDocsPage(watched.page, `${origin}/docs`, expected.length, 30_000);
      expect(response.headers()["strict-transport-security"]).toBe("max-age=63072000; includeSubDomains");
      expect((await renderedOperations(watched.page)).sort()).toEqual(expected.sort());
      expect(await misbehaviour(proxy, watched)).toEqual(WELL_BEHAVED);
    } finally {
      await browser.close();
      await proxy.close();
    }
  });
});

describe("the API through nginx", () => {
  const password = "correct horse battery";
  const suffix = Date.now().toString(36);
  const users: Record<"alice" | "bob", { id: number; email: string; token: string; name: string }> =
    {} as any;
  let workspaceId: number;
  let channelId: number;
  let first: { id: number; content: string };
  const sockets: ChatSocket[] = [];

  afterAll(async () => {
    for (const socket of sockets) await socket.close();
  });

  const chatPath = (token: string) =>
    `/ws/chat/${workspaceId}/${channelId}?token=${encodeURIComponent(token)}`;
  const storedMessages = async () =>
    (
      await stack.sql<{ id: number; content: string }[]>`
        select id, content from messages where channel_id = ${channelId} order by id`
    ).map((r) => ({ id: r.id, content: r.content }));
  const login = async (email: string) =>
    (await ok("POST", "/auth/login", { form: { grant_type: "password", username: email, password } })) as {
      access_token: string;
    };

  it("registers two people, logs them in, and makes a workspace with both and a channel", async () => {
    for (const name of ["alice", "bob"] as const) {
      const email = `${name}-${suffix}@example.com`;
      const display = `${name[0]?.toUpperCase()}${name.slice(1)} ${suffix}`;
      const registered = await ok("POST", "/auth/register", {
        json: { email, password, display_name: display },
      });
      const token = (await login(email)).access_token;
      users[name] = { id: registered.id, email, token, name: registered.display_name };
    }
    const me = await ok("GET", "/auth/me", { token: users.alice.token });
    expect(me).toMatchObject({ id: users.alice.id, email: users.alice.email });

    workspaceId = (
      await ok("POST", "/workspaces", { token: users.alice.token, json: { name: `Self-hosted ${suffix}` } })
    ).id;
    const invite = await ok("POST", `/workspaces/${workspaceId}/invites`, {
      token: users.alice.token,
      json: { invitee_display_name: users.bob.name },
    });
    await ok("POST", `/invites/${invite.id}/accept`, { token: users.bob.token });
    channelId = (
      await ok("POST", `/workspaces/${workspaceId}/channels`, {
        token: users.alice.token,
        json: { name: "general" },
      })
    ).id;
    const channels = await ok("GET", `/workspaces/${workspaceId}/channels`, { token: users.bob.token });
    expect(channels.map((c: { id: number }) => c.id)).toContain(channelId);
  });

  it("broadcasts a message to two sockets over WSS, posted over HTTPS or over a socket", async () => {
    const [alice, bob] = await Promise.all([
      openSocket(stack.endpoint, chatPath(users.alice.token)),
      openSocket(stack.endpoint, chatPath(users.bob.token)),
    ]);
    sockets.push(alice, bob);

    const posted = await ok("POST", `/channels/${channelId}/messages`, {
      token: users.alice.token,
      json: { content: "hello from the VM", client_id: "selfhost:first" },
    });
    expect(posted).toMatchObject({ content: "hello from the VM", user_id: users.alice.id });
    first = posted;
    for (const socket of [alice, bob]) {
      expect((await socket.next("message")).payload).toMatchObject({
        id: posted.id,
        content: "hello from the VM",
      });
    }

    bob.send({ type: "message", content: "and back over the socket", client_id: "selfhost:second" });
    for (const socket of [alice, bob]) {
      expect((await socket.next("message")).payload).toMatchObject({
        content: "and back over the socket",
        user_id: users.bob.id,
      });
    }
    expect((await storedMessages()).map((m) => m.content)).toEqual([
      "hello from the VM",
      "and back over the socket",
    ]);
  });

  it("keeps data, messages, sessions and the Durable Objects' storage across a restart of workerd", async () => {
    // The channel's object keeps its client_id records in SQLite, on the api's volume.
    const roomFiles = readdirSync(join(stack.paths.durableObjects, "braumchat-channel-room"));
    expect(
      roomFiles.some((f) => /^[0-9a-f]{64}\.sqlite$/.test(f)),
      roomFiles.join(", "),
    ).toBe(true);
    const before = await storedMessages();

    const { stoppedInMs, stoppedBy, readyInMs } = await stack.restartApi();
    console.info(
      `selfhost: workerd stopped in ${stoppedInMs} ms (${stoppedBy}), ready again in ${readyInMs} ms`,
    );
    // The sockets ended with the process.
    for (const socket of sockets.splice(0)) await socket.closed;

    // Sessions (PostgreSQL and Redis): the tokens issued before the restart still work.
    const workspaces = await ok("GET", "/workspaces", { token: users.bob.token });
    expect(workspaces.map((w: { id: number }) => w.id)).toContain(workspaceId);
    expect((await login(users.bob.email)).access_token).toBeTruthy();
    // Messages (PostgreSQL).
    const listed = await ok("GET", `/channels/${channelId}/messages`, { token: users.alice.token });
    expect(listed.map((m: { content: string }) => m.content)).toEqual([
      "and back over the socket",
      "hello from the VM",
    ]);

    // The Durable Object's own storage: the same client_id again is the first message, not a new one.
    const [alice, bob] = await Promise.all([
      openSocket(stack.endpoint, chatPath(users.alice.token)),
      openSocket(stack.endpoint, chatPath(users.bob.token)),
    ]);
    sockets.push(alice, bob);
    const replayed = await ok("POST", `/channels/${channelId}/messages`, {
      token: users.alice.token,
      json: { content: "hello from the VM", client_id: "selfhost:first" },
    });
    expect(replayed.id).toBe(first.id);
    expect(await storedMessages()).toEqual(before);

    // And the objects work as before: a new message reaches both new sockets.
    const fresh = await ok("POST", `/channels/${channelId}/messages`, {
      token: users.bob.token,
      json: { content: "after the restart", client_id: "selfhost:third" },
    });
    for (const socket of [alice, bob]) {
      expect((await socket.next("message")).payload).toMatchObject({
        id: fresh.id,
        content: "after the restart",
      });
    }
    expect((await storedMessages()).length).toBe(before.length + 1);
  });

  it("restores from a pg_dump backup into an empty database (README, backups)", async () => {
    const backup = join(stack.paths.tmp, "braumchat.dump");
    // The README's commands, run here without `docker compose exec`.
    execFileSync("pg_dump", ["-Fc", "-f", backup, "-d", stack.databaseUrl], { env: stack.baseEnv });
    const target = await createTestDatabase({ migrate: false });
    try {
      execFileSync("pg_restore", ["--clean", "--if-exists", "--no-owner", "-d", target.url, backup], {
        env: stack.baseEnv,
      });
      const restored = postgres(target.url, { max: 1, onnotice: () => {} });
      try {
        const rows = await restored<{ content: string }[]>`
          select content from messages where channel_id = ${channelId} order by id`;
        expect(rows.map((r) => r.content)).toEqual((await storedMessages()).map((m) => m.content));
        const [users] = await restored<{ n: number }[]>`select count(*)::int as n from users`;
        expect(users?.n).toBe(2);
      } finally {
        await restored.end({ timeout: 1 });
      }
      // The migrate service finds nothing to do on a restored database.
      const [node, ...args] = stack.compose.services.migrate?.command ?? [];
      expect(node).toBe("node");
      const out = execFileSync(process.execPath, args, {
        cwd: repoPath(),
        env: { ...stack.baseEnv, DATABASE_URL: target.url },
        encoding: "utf8",
      });
      expect(out).toContain("already up to date");
    } finally {
      await target.drop();
    }
  });
});

describe("certificates (deploy/certbot/, deploy/nginx/reload-on-new-certificate.sh)", () => {
  it("installs a renewed certificate with certbot's deploy hook, and nginx serves it without a restart", async () => {
    const watcher = new ManagedProcess(
      "reload-on-new-certificate",
      "sh",
      [repoPath("deploy/nginx/reload-on-new-certificate.sh"), "--foreground"],
      {
        env: {
          ...stack.baseEnv,
          TLS_DIR: stack.paths.tls,
          CERT_CHECK_INTERVAL: "1",
          NGINX_PID_FILE: stack.paths.nginxPid,
        },
      },
    );
    stack.processes.push(watcher);
    await waitFor(
      "the watcher to start",
      async () => (watcher.log.includes("reloading nginx when") ? true : undefined),
      {
        process: watcher,
      },
    );
    const before = await servedCertificate(stack.endpoint);
    expect(before).toBe(fingerprintOf(join(stack.paths.tls, "fullchain.pem")));

    // What certbot leaves after a renewal: /etc/letsencrypt/live/<domain>/ (here a new self-signed pair).
    const lineage = join(stack.paths.tmp, "letsencrypt/live", DOMAIN);
    const renewed = selfSignedCertificate(lineage, DOMAIN, `${DOMAIN} renewed`);
    execFileSync("sh", [repoPath("deploy/certbot/deploy-hook.sh")], {
      env: { ...stack.baseEnv, RENEWED_LINEAGE: lineage, TLS_DIR: stack.paths.tls },
    });
    expect(readFileSync(join(stack.paths.tls, "fullchain.pem"), "utf8")).toBe(
      readFileSync(renewed.cert, "utf8"),
    );

    const expected = fingerprintOf(renewed.cert);
    await waitFor(
      "nginx to serve the renewed certificate",
      async () => ((await servedCertificate(stack.endpoint)) === expected ? true : undefined),
      { timeoutMs: 15_000, process: watcher },
    );
    expect(watcher.log).toContain("the certificate changed; reloading nginx");
    // Clients that trust the new certificate get through; the API is still there. (For a moment
    // after the reload, nginx's previous worker may still take a connection: retry past it.)
    stack.endpoint.ca = readFileSync(renewed.cert, "utf8");
    await waitFor("a trusted HTTPS answer", async () =>
      (await api("GET", "/health")).status === 200 ? true : undefined,
    );
  });

  it("runs certbot's service script: a placeholder first, then the certificate, then renewals", async () => {
    const dir = join(stack.paths.tmp, "certbot");
    const bin = join(dir, "bin");
    mkdirSync(bin, { recursive: true });
    const calls = join(dir, "calls.log");
    // A stand-in for certbot: records its arguments; `certonly` leaves what certbot leaves (a
    // lineage and its renewal file) and runs the deploy hook as certbot does.
    writeFileSync(
      join(bin, "certbot"),
      `#!/bin/sh
echo "certbot $*" >> "${calls}"
command=$1; shift
config=/etc/letsencrypt; name=""; hook=""
while [ $# -gt 0 ]; do
  case "$1" in
    --config-dir) config=$2; shift ;;
    --cert-name) name=$2; shift ;;
    --deploy-hook) hook=$2; shift ;;
  esac
  shift
done
if [ "$command" = certonly ]; then
  mkdir -p "$config/live/$name" "$config/renewal"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \\
    -subj "/CN=$name issued" -addext "subjectAltName=DNS:$name" \\
    -keyout "$config/live/$name/privkey.pem" -out "$config/live/$name/fullchain.pem" 2>/dev/null
  echo "[renewalparams]" > "$config/renewal/$name.conf"
  RENEWED_LINEAGE="$config/live/$name" sh -c "$hook"
fi
`,
    );
    chmodSync(join(bin, "certbot"), 0o755);
    const env = {
      ...stack.baseEnv,
      PATH: `${bin}:${stack.baseEnv.PATH}`,
      DOMAIN,
      LETSENCRYPT_EMAIL: `ops@${DOMAIN}`,
      TLS_DIR: join(dir, "tls"),
      ACME_WEBROOT: stack.paths.webroot,
      LETSENCRYPT_DIR: join(dir, "letsencrypt"),
      ACME_PROBE_URL: `http://127.0.0.1:${stack.endpoint.httpPort}/.well-known/acme-challenge`,
      RENEW_INTERVAL: "1",
    };
    const script = repoPath("deploy/certbot/certbot.sh");
    const subject = () =>
      execFileSync("openssl", ["x509", "-noout", "-subject", "-in", join(dir, "tls/fullchain.pem")], {
        encoding: "utf8",
      }).trim();
    const callLog = () => {
      try {
        return readFileSync(calls, "utf8").split("\n").filter(Boolean);
      } catch {
        return [];
      }
    };

    const first = new ManagedProcess("certbot.sh", "sh", [script], { env });
    stack.processes.push(first);
    await waitFor("two renewals", async () => (callLog().length >= 3 ? true : undefined), { process: first });
    await first.stop();
    expect(first.log.indexOf("placeholder-certificate: self-signed certificate")).toBeGreaterThanOrEqual(0);
    expect(first.log.indexOf("placeholder-certificate:")).toBeLessThan(
      first.log.indexOf("deploy-hook: installed"),
    );
    expect(subject()).toBe(`subject=CN = ${DOMAIN} issued`);
    const [certonly, renew] = callLog();
    expect(certonly).toMatch(/^certbot certonly --non-interactive --agree-tos /);
    expect(certonly).toContain(`--email ops@${DOMAIN}`);
    expect(certonly).toContain(
      `--webroot --webroot-path ${stack.paths.webroot} --cert-name ${DOMAIN} -d ${DOMAIN}`,
    );
    expect(renew).toMatch(/^certbot renew --non-interactive .*--webroot --webroot-path /);
    // The readiness probe left nothing behind in the challenge folder.
    expect(
      readdirSync(join(stack.paths.webroot, ".well-known/acme-challenge")).filter((f) =>
        f.startsWith("probe-"),
      ),
    ).toEqual([]);

    // Started again (a new container, a new TLS volume): no new certificate is asked for; the one
    // there is installed again, and renewals go on.
    writeFileSync(calls, "");
    rmSync(join(dir, "tls"), { recursive: true });
    const again = new ManagedProcess("certbot.sh (again)", "sh", [script], { env });
    stack.processes.push(again);
    await waitFor("a renewal", async () => (callLog().length >= 1 ? true : undefined), { process: again });
    await again.stop();
    expect(again.log).not.toContain("placeholder-certificate");
    expect(callLog().every((line) => line.startsWith("certbot renew "))).toBe(true);
    expect(subject()).toBe(`subject=CN = ${DOMAIN} issued`);
  });
});
