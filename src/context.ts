/**
 * What every request handler can reach through `c.var`, created once per request by the
 * middleware in http/request-context.ts.
 */
import type { Config, ConfigProblem } from "./config";
import type { Database } from "./db/client";
import type { Env } from "./env";
import type { ValidationIssue } from "./errors";
import type { Caller } from "./http/auth";
import type { Logger } from "./log";
import type { Notifier } from "./services/notifier";
import type { Realtime } from "./services/realtime";
import type { KeyValueStore } from "./store/store";

/** Connections are opened on first use: most requests need the database, few need the store. */
export interface Dependencies {
  readonly db: Database;
  readonly store: KeyValueStore;
  /** Events for users' notification sockets (realtime/notifier.ts). */
  readonly notifier: Notifier;
  /** Tells the conversation objects about access changes (realtime/port.ts). */
  readonly realtime: Realtime;
}

export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    log: Logger;
    config: Config;
    /** Set instead of `config` (and `deps`) when the settings are invalid; only probes run then. */
    configProblems: ConfigProblem[] | undefined;
    deps: Dependencies;
    /** The authenticated caller, set by requireAuth. */
    caller: Caller;
    /** The JSON body parsed by parseJsonBody (undefined when the request had none). */
    body: unknown;
    /** Set instead of `body` when the JSON body was malformed (see parseJsonBody). */
    bodyError: ValidationIssue | undefined;
  };
}
