/**
 * What the benchmarks measure: the deployment as docker-compose.yml runs it, without Docker
 * (test/selfhost/stack.ts): workerd serving deploy/workerd.capnp unchanged, PgBouncer through its
 * image's entrypoint (transaction pooling, SCRAM), Redis with its password, the Upstash bridge
 * with its token, nginx with TLS. The only differences from production are the .env values an
 * operator would set for a load test: rate limits off (they would refuse the load, and they are
 * measured elsewhere) and, with BENCH_DB_CONNECTIONS=per-request, a connection per request.
 *
 * Benchmarks talk to workerd's own port (`api`, what nginx proxies to) unless they say otherwise,
 * so the figures are workerd's and not nginx's TLS.
 */
import { type SelfHostStack, startSelfHostStack } from "../../test/selfhost/stack";

export type Connections = "pooled" | "per-request";

/** BENCH_DB_CONNECTIONS=per-request: DATABASE_CONNECTIONS=per-request (default: pooled, as compose). */
export function connectionsFromEnv(): Connections {
  const value = process.env.BENCH_DB_CONNECTIONS ?? "pooled";
  if (value !== "pooled" && value !== "per-request") {
    throw new Error(`BENCH_DB_CONNECTIONS must be pooled or per-request, not ${value}`);
  }
  return value;
}

/** The .env of a load test: every rate limit off, the channel objects' post limit at its maximum. */
export const LOAD_TEST_DOTENV = {
  RATE_LIMITS_ENABLED: "false",
  RATE_LIMIT_POST_MESSAGE_PER_10_SECONDS: "10000",
  RATE_LIMIT_DM_MESSAGE_PER_10_SECONDS: "10000",
};

export type ServiceName = "api" | "pgbouncer" | "bridge" | "redis" | "nginx";

export interface Deployment {
  stack: SelfHostStack;
  /** workerd's own port, e.g. http://127.0.0.1:41234. */
  api: string;
  connections: Connections;
  /** The process id of a service (workerd's changes with stack.restartApi()). */
  pid(service: ServiceName): number;
  stop(): Promise<void>;
}

export async function startDeployment(
  options: { connections?: Connections; dotenv?: Record<string, string>; inspectorAddress?: string } = {},
): Promise<Deployment> {
  const connections = options.connections ?? connectionsFromEnv();
  const stack = await startSelfHostStack({
    dotenv: { ...LOAD_TEST_DOTENV, DATABASE_CONNECTIONS: connections, ...options.dotenv },
    inspectorAddress: options.inspectorAddress,
  });
  const apiEnv = stack.compose.services.api?.environment ?? {};
  if (apiEnv.DATABASE_CONNECTIONS !== connections || apiEnv.RATE_LIMITS_ENABLED !== "false") {
    await stack.stop();
    throw new Error("docker-compose.yml did not pass the load test's .env values to the api service");
  }
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= stack.stop();
    return stopped;
  };
  // Ctrl-C or a kill must not leave the stack's processes running (nor its database behind).
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopping the stack`);
    void stop().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  return {
    stack,
    api: stack.apiUrl,
    connections,
    pid(service) {
      const pid =
        service === "api"
          ? stack.apiPid()
          : stack.processes.find((p) => p.name === service && p.running)?.pid;
      if (pid === undefined) throw new Error(`the ${service} service is not running`);
      return pid;
    },
    async stop() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      await stop();
    },
  };
}

/** One line describing the deployment, for the top of a benchmark's output. */
export function describeDeployment(d: Deployment): string {
  const env = d.stack.compose.services.api?.environment ?? {};
  return (
    `self-hosted stack (docker-compose.yml without Docker): workerd pid ${d.pid("api")} at ${d.api}, ` +
    `DATABASE_CONNECTIONS=${env.DATABASE_CONNECTIONS}, DATABASE_POOL_SIZE=${env.DATABASE_POOL_SIZE || "(default)"}, ` +
    `LOG_LEVEL=${env.LOG_LEVEL}, PgBouncer (scram-sha-256, transaction pooling) pid ${d.pid("pgbouncer")}, ` +
    `bridge pid ${d.pid("bridge")}, rate limits off`
  );
}
