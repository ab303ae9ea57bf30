/**
 * Sending one server event to many sockets, the way every socket object of this project must
 * (docs/original-defects.md#d4-unencodable-events): the frame is encoded once, before any socket is touched,
 * so an event that cannot be encoded is dropped on its own and costs no socket its registration; and
 * each send is isolated, so a socket that fails is reported (the caller closes it) while the
 * others still get the frame. The original did neither: one encoding error unregistered the
 * recipient's socket for good.
 *
 * Kept free of runtime types so it can be tested with plain objects in Node.
 */

export interface ServerEvent {
  type: string;
  payload: unknown;
}

/** The `{"type","payload"}` text frame of an event, or null when it cannot be encoded as JSON. */
export function encodeFrame(event: ServerEvent): string | null {
  try {
    // JSON.stringify returns undefined (no throw) for a few values; such an event is not a frame.
    const text: string | undefined = JSON.stringify({ type: event.type, payload: event.payload ?? {} });
    return typeof text === "string" ? text : null;
  } catch {
    // Cycles and BigInt throw. The event is unusable; nothing else is affected.
    return null;
  }
}

export interface FrameSink {
  send(frame: string): void;
}

export interface FanOutResult<S> {
  delivered: number;
  /** Sockets whose send threw, with the error, for the caller to close and log. */
  failed: { socket: S; error: unknown }[];
}

/** Sends `frame` to every socket; one socket's failure never stops the others. */
export function sendToAll<S extends FrameSink>(sockets: Iterable<S>, frame: string): FanOutResult<S> {
  const result: FanOutResult<S> = { delivered: 0, failed: [] };
  for (const socket of sockets) {
    try {
      socket.send(frame);
      result.delivered += 1;
    } catch (error) {
      result.failed.push({ socket, error });
    }
  }
  return result;
}
