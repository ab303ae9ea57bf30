/**
 * The wrk driver: one wrk thread holding the connections, a Lua script that rotates through the
 * users' tokens and counts every answer outside 200-299, and bash's `times` for the CPU wrk used.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LoadOptions, LoadRequest, LoadResult } from "./load";
import { parseChildTimes } from "./proc";

/** Requests are built once in init(); response() only looks at the status. */
const SCRIPT = `
local threads = {}
function setup(thread) table.insert(threads, thread) end

local prepared = {}
local sent = 0
non2xx = 0
function init(args)
  local method, path, body = args[1], args[2], args[3]
  for i = 4, #args do
    local headers = { ["Authorization"] = "Bearer " .. args[i] }
    if body ~= "" then headers["Content-Type"] = "application/json" end
    prepared[#prepared + 1] = wrk.format(method, path, headers, body ~= "" and body or nil)
  end
end
function request()
  sent = sent + 1
  return prepared[(sent % #prepared) + 1]
end
function response(status)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("non2xx") end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"non2xx":%d,"socket":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    bad, e.connect + e.read + e.write + e.timeout))
end
`;

export async function wrkLoad(
  wrk: string,
  base: string,
  request: LoadRequest,
  options: LoadOptions,
): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), "bench-wrk-"));
  const script = join(dir, "load.lua");
  writeFileSync(script, SCRIPT);
  const args = [
    "--threads=1",
    `--connections=${options.connections}`,
    `--duration=${options.seconds}s`,
    "--timeout=10s",
    `--script=${script}`,
    `${base}${request.path}`,
    "--",
    request.method,
    request.path,
    request.body ?? "",
    ...request.tokens,
  ];
  try {
    const { stdout, stderr, code } = await new Promise<{
      stdout: string;
      stderr: string;
      code: number | null;
    }>((resolve, reject) => {
      // bash runs wrk and then reports its children's CPU times with `times`.
      const child = spawn(
        "bash",
        ["-c", 'wrk="$1"; shift; "$wrk" "$@"; rc=$?; times >&2; exit $rc', "bash", wrk, ...args],
        {
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let out = "";
      let err = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
      });
      child.stderr.on("data", (chunk: Buffer) => {
        err += chunk.toString();
      });
      child.once("error", reject);
      child.once("exit", (exitCode) => resolve({ stdout: out, stderr: err, code: exitCode }));
    });
    const line = stdout.split("\n").find((l) => l.startsWith("WRK_RESULT "));
    if (code !== 0 || !line) throw new Error(`wrk failed (exit ${code}):\n${stdout}\n${stderr}`);
    const r = JSON.parse(line.slice("WRK_RESULT ".length)) as Record<string, number>;
    const seconds = (r.duration_us as number) / 1e6;
    return {
      driver: "wrk",
      requests: r.requests as number,
      seconds,
      perSecond: (r.requests as number) / seconds,
      p50Ms: (r.p50_us as number) / 1000,
      p99Ms: (r.p99_us as number) / 1000,
      maxMs: (r.max_us as number) / 1000,
      non2xx: r.non2xx as number,
      socketErrors: r.socket as number,
      clientCpuSeconds: parseChildTimes(stderr),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
