# workerd configuration for self-hosting Braumchat (the `api` service of docker-compose.yml).
#
# It serves exactly the bundle `npm run build` writes (wrangler's dry-run output: dist/index.js
# and the text modules it imports), with the runtime wrangler.toml describes for Cloudflare.
# Keep the two in step:
# test/selfhost/static.test.ts fails when the compatibility date or flags, the Durable Object
# bindings or their SQLite storage differ from wrangler.toml, or when a setting src/config.ts
# reads has no binding here.
#
# Layout it expects (deploy/Dockerfile builds it in /app): this file in <root>/deploy/ and the
# bundle in <root>/dist/, because `embed` paths are relative to this file.
#
#   workerd serve deploy/workerd.capnp
#
# Settings come from the environment (bindings below). The listening address and the storage
# folder can be changed without editing this file (npm run test:selfhost does):
#   --socket-addr=http=127.0.0.1:8787 --directory-path=durable-objects=/some/folder
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "api", worker = .api),

    # Durable Objects' SQLite files: a mounted volume (docker-compose.yml: api-data).
    # Each class gets a folder named after its uniqueKey below.
    (name = "durable-objects", disk = (path = "/data/durable-objects", writable = true)),

    # Outbound connections: PostgreSQL (through pgbouncer) and the Upstash bridge live on the
    # compose network (private addresses), Google's key set on the internet (public). "local"
    # lets a test or a single-host install reach 127.0.0.1. TLS to the internet trusts the CAs
    # browsers trust.
    (name = "outbound", network = (
      allow = ["public", "private", "local"],
      tlsOptions = (trustBrowserCas = true),
    )),
  ],

  sockets = [
    # nginx proxies here (plain HTTP on the compose network; TLS ends at nginx). The Worker sees
    # https:// URLs when nginx says so in X-Forwarded-Proto.
    (name = "http", address = "*:8080", http = (forwardedProtoHeader = "X-Forwarded-Proto"), service = "api"),
  ],
);

const api :Workerd.Worker = (
  # Every file `npm run build` writes but the source map: the bundle, and the documentation's
  # browser files, which the bundle imports as text modules (wrangler.toml [[rules]]; their names
  # are the import specifiers, kept by preserve_file_names). npm run test:selfhost fails when the
  # build writes a file this list lacks, or the other way round.
  modules = [
    (name = "index.js", esModule = embed "../dist/index.js"),
    (name = "docs-init.js", text = embed "../dist/docs-init.js"),
    (name = "swagger-ui-dist/swagger-ui-bundle.js", text = embed "../dist/swagger-ui-dist/swagger-ui-bundle.js"),
    (name = "swagger-ui-dist/swagger-ui.css", text = embed "../dist/swagger-ui-dist/swagger-ui.css"),
  ],

  # Same as wrangler.toml (Node.js compatibility is the default at this date).
  compatibilityDate = "2026-11-17",
  compatibilityFlags = ["no_web_socket_compression"],

  bindings = [
    # Settings: each one read from the container's environment (documented in
    # .dev.vars.example; src/config.ts validates them). An unset variable is an absent binding,
    # which the Worker treats as "not set".
    (name = "ENV", fromEnvironment = "ENV"),
    (name = "LOG_LEVEL", fromEnvironment = "LOG_LEVEL"),
    (name = "DATABASE_URL", fromEnvironment = "DATABASE_URL"),
    (name = "DATABASE_PREPARE", fromEnvironment = "DATABASE_PREPARE"),
    (name = "DATABASE_CONNECTIONS", fromEnvironment = "DATABASE_CONNECTIONS"),
    (name = "DATABASE_POOL_SIZE", fromEnvironment = "DATABASE_POOL_SIZE"),
    (name = "DB_CONNECT_TIMEOUT_SECONDS", fromEnvironment = "DB_CONNECT_TIMEOUT_SECONDS"),
    (name = "UPSTASH_REDIS_REST_URL", fromEnvironment = "UPSTASH_REDIS_REST_URL"),
    (name = "UPSTASH_REDIS_REST_TOKEN", fromEnvironment = "UPSTASH_REDIS_REST_TOKEN"),
    (name = "STORE_KEY_PREFIX", fromEnvironment = "STORE_KEY_PREFIX"),
    (name = "STORE_TIMEOUT_MS", fromEnvironment = "STORE_TIMEOUT_MS"),
    (name = "JWT_SECRET", fromEnvironment = "JWT_SECRET"),
    (name = "JWT_ALGORITHM", fromEnvironment = "JWT_ALGORITHM"),
    (name = "ACCESS_TOKEN_EXPIRES_MINUTES", fromEnvironment = "ACCESS_TOKEN_EXPIRES_MINUTES"),
    (name = "REFRESH_TOKEN_EXPIRES_DAYS", fromEnvironment = "REFRESH_TOKEN_EXPIRES_DAYS"),
    (name = "REFRESH_REUSE_GRACE_SECONDS", fromEnvironment = "REFRESH_REUSE_GRACE_SECONDS"),
    (name = "REQUIRE_SESSION_CLAIM", fromEnvironment = "REQUIRE_SESSION_CLAIM"),
    (name = "SESSION_TOUCH_ENABLED", fromEnvironment = "SESSION_TOUCH_ENABLED"),
    (name = "SESSION_TOUCH_TTL_SECONDS", fromEnvironment = "SESSION_TOUCH_TTL_SECONDS"),
    (name = "SESSION_CACHE_SECONDS", fromEnvironment = "SESSION_CACHE_SECONDS"),
    (name = "GOOGLE_CLIENT_ID", fromEnvironment = "GOOGLE_CLIENT_ID"),
    (name = "GOOGLE_JWKS_URL", fromEnvironment = "GOOGLE_JWKS_URL"),
    (name = "GOOGLE_ISSUERS", fromEnvironment = "GOOGLE_ISSUERS"),
    (name = "CLIENT_IP_SOURCE", fromEnvironment = "CLIENT_IP_SOURCE"),
    # Replaced by CLIENT_IP_SOURCE; still read, so that an older .env keeps working.
    (name = "TRUST_PROXY_HEADERS", fromEnvironment = "TRUST_PROXY_HEADERS"),
    (name = "CORS_ORIGINS", fromEnvironment = "CORS_ORIGINS"),
    (name = "WS_MAX_SOCKETS_PER_USER", fromEnvironment = "WS_MAX_SOCKETS_PER_USER"),
    (name = "WS_FRAMES_PER_SECOND", fromEnvironment = "WS_FRAMES_PER_SECOND"),
    (name = "ACCESS_CACHE_SECONDS", fromEnvironment = "ACCESS_CACHE_SECONDS"),
    (name = "MENTION_EVERYONE_MAX_READERS", fromEnvironment = "MENTION_EVERYONE_MAX_READERS"),
    (name = "SEARCH_LANGUAGE", fromEnvironment = "SEARCH_LANGUAGE"),
    (name = "METRICS_ENABLED", fromEnvironment = "METRICS_ENABLED"),
    (name = "METRICS_TOKEN", fromEnvironment = "METRICS_TOKEN"),
    (name = "RATE_LIMITS_ENABLED", fromEnvironment = "RATE_LIMITS_ENABLED"),
    (name = "RATE_LIMIT_FAIL_OPEN", fromEnvironment = "RATE_LIMIT_FAIL_OPEN"),
    (name = "RATE_LIMIT_TIMEOUT_MS", fromEnvironment = "RATE_LIMIT_TIMEOUT_MS"),
    (name = "RATE_LIMIT_WINDOW_OVERRIDE_MS", fromEnvironment = "RATE_LIMIT_WINDOW_OVERRIDE_MS"),
    (name = "RATE_LIMIT_HTTP_PER_MINUTE", fromEnvironment = "RATE_LIMIT_HTTP_PER_MINUTE"),
    (name = "RATE_LIMIT_WS_CONNECT_PER_MINUTE", fromEnvironment = "RATE_LIMIT_WS_CONNECT_PER_MINUTE"),
    (name = "RATE_LIMIT_LOGIN_PER_MINUTE", fromEnvironment = "RATE_LIMIT_LOGIN_PER_MINUTE"),
    (name = "RATE_LIMIT_LOGIN_PER_MINUTE_PER_USER", fromEnvironment = "RATE_LIMIT_LOGIN_PER_MINUTE_PER_USER"),
    (name = "RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT_PER_15_MINUTES", fromEnvironment = "RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT_PER_15_MINUTES"),
    (name = "RATE_LIMIT_REFRESH_PER_MINUTE", fromEnvironment = "RATE_LIMIT_REFRESH_PER_MINUTE"),
    (name = "RATE_LIMIT_REGISTER_PER_HOUR", fromEnvironment = "RATE_LIMIT_REGISTER_PER_HOUR"),
    (name = "RATE_LIMIT_POST_MESSAGE_PER_10_SECONDS", fromEnvironment = "RATE_LIMIT_POST_MESSAGE_PER_10_SECONDS"),
    (name = "RATE_LIMIT_DM_MESSAGE_PER_10_SECONDS", fromEnvironment = "RATE_LIMIT_DM_MESSAGE_PER_10_SECONDS"),
    (name = "RATE_LIMIT_DM_THREAD_CREATE_PER_MINUTE", fromEnvironment = "RATE_LIMIT_DM_THREAD_CREATE_PER_MINUTE"),
    (name = "RATE_LIMIT_REACTION_PER_MINUTE", fromEnvironment = "RATE_LIMIT_REACTION_PER_MINUTE"),
    (name = "RATE_LIMIT_SEARCH_PER_MINUTE", fromEnvironment = "RATE_LIMIT_SEARCH_PER_MINUTE"),

    # Durable Object namespaces: the same bindings and classes as wrangler.toml.
    (name = "API_HOST", durableObjectNamespace = "ApiHost"),
    (name = "NOTIFICATION_FEED", durableObjectNamespace = "NotificationFeed"),
    (name = "CHANNEL_ROOM", durableObjectNamespace = "ChannelRoom"),
    (name = "DM_THREAD", durableObjectNamespace = "DmThread"),
  ],

  # Every class is SQLite-backed (wrangler.toml: new_sqlite_classes). A uniqueKey names the
  # class's storage folder and derives its object ids: NEVER change one once data exists, or
  # the objects' stored data is orphaned.
  durableObjectNamespaces = [
    (className = "ApiHost", uniqueKey = "braumchat-api-host", enableSql = true),
    (className = "NotificationFeed", uniqueKey = "braumchat-notification-feed", enableSql = true),
    (className = "ChannelRoom", uniqueKey = "braumchat-channel-room", enableSql = true),
    (className = "DmThread", uniqueKey = "braumchat-dm-thread", enableSql = true),
  ],
  durableObjectStorage = (localDisk = "durable-objects"),

  globalOutbound = "outbound",
);
