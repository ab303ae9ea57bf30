/**
 * A strict reader of the Prometheus text exposition format 0.0.4, written from the format's
 * description (not from src/observability/metrics.ts), so the tests check what a scraper reads.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL = '([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*)?,?\\})?\\s+(\\S+)(?:\\s+-?\\d+)?$`);
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

function parseValue(text: string): number {
  if (text === "+Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  if (text === "NaN") return Number.NaN;
  const value = Number(text);
  if (text.trim() === "" || Number.isNaN(value)) throw new Error(`not a sample value: ${text}`);
  return value;
}

function parseLabels(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  if (!text) return labels;
  for (const match of text.matchAll(new RegExp(LABEL, "g"))) {
    const name = match[1] as string;
    if (name in labels) throw new Error(`label ${name} given twice`);
    labels[name] = (match[2] as string).replace(/\\(["\\n])/g, (_, c: string) => (c === "n" ? "\n" : c));
  }
  return labels;
}

/** The family a sample belongs to: histograms own their _bucket, _sum and _count series. */
function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(name);
  if (direct) return direct;
  const base = name.replace(/_(bucket|sum|count)$/, "");
  const family = families.get(base);
  return family && (family.type === "histogram" || family.type === "summary") ? family : undefined;
}

export function parsePrometheusText(text: string): Map<string, Family> {
  if (!text.endsWith("\n")) throw new Error("the exposition must end with a line feed");
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  for (const line of text.slice(0, -1).split("\n")) {
    if (line.trim() === "") continue;
    const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
    if (meta) {
      const [, kind, name = "", rest = ""] = meta;
      if (!new RegExp(`^${NAME}$`).test(name)) throw new Error(`bad metric name: ${line}`);
      const family = families.get(name) ?? { name, type: "untyped", help: "", samples: [] };
      if (kind === "TYPE") {
        if (!TYPES.has(rest)) throw new Error(`bad type: ${line}`);
        if (family.samples.length > 0) throw new Error(`TYPE after samples: ${line}`);
        family.type = rest;
      } else family.help = rest;
      families.set(name, family);
      continue;
    }
    if (line.startsWith("#")) continue;
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const name = match[1] as string;
    const labelText = line.includes("{")
      ? line.slice(line.indexOf("{") + 1, line.lastIndexOf("}"))
      : undefined;
    const sample = {
      name,
      labels: parseLabels(labelText),
      value: parseValue(match[match.length - 1] as string),
    };
    const family = familyOf(name, families);
    if (!family) throw new Error(`sample without a TYPE line before it: ${line}`);
    const key = `${name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seen.has(key)) throw new Error(`duplicate series: ${line}`);
    seen.add(key);
    family.samples.push(sample);
  }
  return families;
}

/** Checks what a histogram promises: per series, ascending `le`, cumulative counts, +Inf = _count. */
export function checkHistogram(family: Family): void {
  const series = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(key) ?? { buckets: [] };
    if (sample.name.endsWith("_bucket")) entry.buckets.push([parseValue(le ?? ""), sample.value]);
    else if (sample.name.endsWith("_count")) entry.count = sample.value;
    else if (sample.name.endsWith("_sum")) entry.sum = sample.value;
    series.set(key, entry);
  }
  for (const [key, entry] of series) {
    const bounds = entry.buckets.map(([le]) => le);
    if (bounds.at(-1) !== Number.POSITIVE_INFINITY) throw new Error(`${family.name}${key}: no +Inf bucket`);
    for (let i = 1; i < entry.buckets.length; i++) {
      const [le0, c0] = entry.buckets[i - 1] as [number, number];
      const [le1, c1] = entry.buckets[i] as [number, number];
      if (!(le1 > le0)) throw new Error(`${family.name}${key}: buckets out of order`);
      if (c1 < c0) throw new Error(`${family.name}${key}: counts not cumulative`);
    }
    if (entry.count !== entry.buckets.at(-1)?.[1])
      throw new Error(`${family.name}${key}: +Inf bucket is not _count`);
    if (entry.sum === undefined || entry.sum < 0) throw new Error(`${family.name}${key}: bad _sum`);
  }
}

/** The value of the one sample of `name` whose labels include `labels` (undefined when none). */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const family = familyOf(name, families);
  const matches = (family?.samples ?? []).filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (matches.length > 1)
    throw new Error(`${name} ${JSON.stringify(labels)} matches ${matches.length} series`);
  return matches[0]?.value;
}
