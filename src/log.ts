/**
 * Structured logs: one JSON object per line, so `wrangler tail`, workerd's stdout under
 * docker and any log shipper can parse them without a format of their own.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

function serialiseError(error: unknown): LogFields {
  if (error instanceof Error) {
    return { error: error.message, error_name: error.name, stack: error.stack };
  }
  return { error: String(error) };
}

export function createLogger(minLevel: LogLevel = "info", base: LogFields = {}): Logger {
  const write = (level: LogLevel, message: string, fields?: LogFields) => {
    if (rank[level] < rank[minLevel]) return;
    const { err, ...rest } = fields ?? {};
    const line = {
      time: new Date().toISOString(),
      level,
      msg: message,
      ...base,
      ...rest,
      ...(err === undefined ? {} : serialiseError(err)),
    };
    const text = JSON.stringify(line);
    if (level === "error") console.error(text);
    else if (level === "warn") console.warn(text);
    else console.log(text);
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    child: (fields) => createLogger(minLevel, { ...base, ...fields }),
  };
}
