/**
 * The request body limit, answered so that the connection stays usable (issue 13.8).
 *
 * A body over MAX_BODY_BYTES is refused with 413 while it streams in (chunked bodies, which
 * carry no Content-Length, included). Answering before the body was read leaves the rest of it
 * unread on the connection: the runtime then closes it with data still in flight, the kernel
 * sends a reset, and the client's next request on that keep-alive connection fails; behind a
 * proxy that keeps upstream connections (our nginx), another user's request fails with 502.
 *
 * So the rest of an oversized body is read and dropped, up to DRAIN_MAX_BYTES in all, and the 413
 * leaves the connection ready for the next request. A body declared or found larger than that is
 * not read on: the 413 then carries `Connection: close`, so clients drop the connection cleanly
 * instead of reusing it. (nginx refuses bodies over 1 MiB itself, `client_max_body_size`, so
 * behind it every 413 of ours keeps the connection.)
 *
 * Hono's bodyLimit answers at once and locks the body's reader, so neither is possible with it.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../context";
import { AppError } from "../errors";

/** Bodies above this size are refused; the largest legitimate body is a message. */
export const MAX_BODY_BYTES = 256 * 1024;
/** Most bytes of a refused body read (and dropped) so that its connection can be reused. */
export const DRAIN_MAX_BYTES = 1024 * 1024;

const tooLarge = (closeConnection: boolean) =>
  new AppError(413, "Request body too large", closeConnection ? { Connection: "close" } : {});

/** Reads and drops the rest of a body; true when it ended within the budget. */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, alreadyRead: number): Promise<boolean> {
  let total = alreadyRead;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return true;
      total += value.byteLength;
      if (total > DRAIN_MAX_BYTES) {
        await reader.cancel().catch(() => {});
        return false;
      }
    }
  } catch {
    return false;
  }
}

function declaredLength(request: Request): number | null {
  if (request.headers.has("Transfer-Encoding")) return null;
  const header = request.headers.get("Content-Length");
  if (header === null || !/^\d{1,15}$/.test(header.trim())) return null;
  return Number(header);
}

export const limitBodySize: MiddlewareHandler<AppEnv> = async (c, next) => {
  const body = c.req.raw.body;
  if (!body) return next();
  const declared = declaredLength(c.req.raw);
  if (declared !== null && declared <= MAX_BODY_BYTES) return next();
  if (declared !== null && declared > DRAIN_MAX_BYTES) {
    await body.cancel().catch(() => {});
    throw tooLarge(true);
  }

  // No usable length, or one between the limit and the drain budget: read it, counting.
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) throw tooLarge(!(await drain(reader, size)));
    chunks.push(value);
  }
  const whole = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(chunk, offset);
    offset += chunk.byteLength;
  }
  c.req.raw = new Request(c.req.raw, { body: whole });
  return next();
};
