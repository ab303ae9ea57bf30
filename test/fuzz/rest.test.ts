/**
 * Property-based fuzzing of every operation the Worker serves (issue 13.2): the operations come
 * from the served /openapi.json, and fast-check sends each of them FUZZ_RUNS cases (default 20)
 * that break one input at a time with a malformed value (wrong types, NUL and other control
 * characters, lone surrogates, huge numbers, overlong strings, deep nesting, invalid JSON, bytes
 * that are not UTF-8, foreign content types; see malformed.ts). The caller is a logged-in owner
 * of a workspace, a channel and a DM thread (world.ts), so cases reach the handlers.
 *
 * A case fails on a 5xx, an error answer without `detail`, or a connection closed or reset
 * instead of answered (fetch reuses keep-alive connections, so a connection left unusable fails
 * the next case). The seed is random and printed; replay a failure with FUZZ_SEED=<seed>.
 */
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { createSigningKey, googleEnv, type KeyServer, startKeyServer } from "../support/google";
import { describeMutation, mutations, type Operation, operationsOf, problemWith, send } from "./operations";
import { buildWorld, heal, type World } from "./world";

const RUNS = Number(process.env.FUZZ_RUNS ?? 20);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

let app: TestApp;
let keyServer: KeyServer;
let world: World;
let operations: Operation[];

beforeAll(async () => {
  console.info(`fuzz (REST): seed ${SEED}, ${RUNS} cases per operation; replay with FUZZ_SEED=${SEED}`);
  // Message limits are not under test: fuzzed posts that happen to be valid must not turn into 429s.
  // Google sign-in configured (against a local key server), so /auth/google reaches its handler.
  keyServer = await startKeyServer([await createSigningKey()]);
  app = await startApp({
    env: {
      ...googleEnv(keyServer),
      RATE_LIMIT_POST_MESSAGE_PER_10_SECONDS: "10000",
      RATE_LIMIT_DM_MESSAGE_PER_10_SECONDS: "10000",
    },
  });
  world = await buildWorld(app);
  const document = await (await app.fetch("/openapi.json")).json();
  operations = operationsOf(document);
});
afterAll(async () => {
  await app?.close();
  await keyServer?.close();
});

const causeOf = (error: unknown) => {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? String(error);
};

it("answers malformed input to every operation with a 4xx and a detail, never a 5xx or a dropped connection", async () => {
  expect(operations.length).toBeGreaterThan(70);
  const started = Date.now();
  const failures: string[] = [];
  let cases = 0;
  const statuses = new Map<number, number>();
  /** Operations after which the fixtures had to be built again (a case removed or changed them). */
  const rebuilt: string[] = [];
  for (const [index, op] of operations.entries()) {
    const property = fc.asyncProperty(mutations(op), async (mutation) => {
      cases += 1;
      const outcome = await send(app, op, mutation, world).catch((error: unknown) => {
        throw new Error(`the connection failed instead of answering (${causeOf(error)})`);
      });
      statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
      const problem = problemWith(outcome);
      if (problem) throw new Error(problem);
    });
    // One seed per operation, so that operations do not all draw the same sequence of cases.
    const details = await fc.check(property, { numRuns: RUNS, seed: SEED + index, endOnFailure: true });
    if (details.failed) {
      failures.push(
        `${op.method} ${op.path}: ${details.errorInstance instanceof Error ? details.errorInstance.message : details.errorInstance}\n` +
          `    case ${describeMutation(details.counterexample?.[0] as never)} (FUZZ_SEED=${SEED}, seed of this operation ${details.seed}, path ${details.counterexamplePath})`,
      );
    }
    const healed = await heal(app, world);
    if (healed.broken.length > 0) rebuilt.push(`${op.method} ${op.path} (${healed.broken.join(", ")})`);
    world = healed.world;
  }
  console.info(
    `fuzz (REST): ${cases} cases over ${operations.length} operations in ${Math.round((Date.now() - started) / 1000)} s;`,
    `statuses ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))};`,
    `fixtures rebuilt after ${rebuilt.length} operations ${JSON.stringify(rebuilt)}`,
  );
  expect(failures, `replay with FUZZ_SEED=${SEED}`).toEqual([]);
}, 600_000);
