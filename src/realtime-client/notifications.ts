/**
 * The user's notification socket for the web app, typed with the protocol's notification events
 * (realtime/protocol/notification-events.ts). It reconnects like a conversation socket does
 * (connection.ts), but the server keeps no missed notifications: on `state` `open` with
 * `reconnected: true`, re-fetch the lists they concern (invites, friend requests, unread counts).
 */
import type { NotificationEvent, NotificationEventType } from "../realtime/protocol/notification-events";
import { Connection, type ConnectionOptions, type ConnectionState } from "./connection";
import { Emitter } from "./emitter";
import type { RealtimeError } from "./errors";

export type NotificationEvents = {
  [T in NotificationEventType]: Extract<NotificationEvent, { type: T }>["payload"];
} & {
  /** Every event, for a listener of them all. */
  notification: NotificationEvent;
  refused: RealtimeError;
  state: ConnectionState;
};

export class NotificationClient extends Emitter<NotificationEvents> {
  private readonly connection: Connection;

  constructor(options: ConnectionOptions) {
    super();
    this.connection = new Connection(options, {
      path: () => "/ws/notifications",
      // Any text proves the socket alive; the server answers nothing.
      ping: { text: "ping", answered: false },
      opened: () => {},
      frame: (text) => this.frame(text),
      state: (state) => this.emit("state", state),
      problem: (error) => this.emit("refused", error),
    });
  }

  close(): void {
    this.connection.close();
  }

  private frame(text: string) {
    let event: NotificationEvent;
    try {
      event = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof event?.type !== "string") return;
    this.emit("notification", event);
    this.emit(event.type, event.payload as never);
  }
}

export const connectNotifications = (options: ConnectionOptions) => new NotificationClient(options);
