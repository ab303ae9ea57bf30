/**
 * The Worker's bindings. Settings arrive as plain variables and secrets; config.ts is the
 * only reader of them (see .dev.vars.example for each one).
 */
export interface Env {
  [setting: string]: unknown;
}
