/**
 * Keeps the project's pointers true (unit tier: no bundle, database or store).
 *
 * - Code and tests explain themselves or point into docs/: they never cite the outside reference
 *   the port was once checked against (its section numbers, "contract N.N", or defect numbers
 *   such as "D12"); docs/original-defects.md gives every defect a named heading instead.
 * - Every `docs/<file>.md#<anchor>` in src/ and test/, and every relative link between the pages
 *   of docs/, names a file that exists and a heading it has (GitHub's anchor for that heading).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const DOCS = join(ROOT, "docs");
const THIS_FILE = relative(ROOT, import.meta.filename);

function filesUnder(dir: string, keep: (name: string) => boolean): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...filesUnder(path, keep));
    else if (keep(entry.name)) found.push(path);
  }
  return found;
}

const sourceFiles = ["src", "test"]
  .flatMap((dir) => filesUnder(join(ROOT, dir), (name) => /\.(ts|js|mjs)$/.test(name)))
  .map((path) => relative(ROOT, path))
  .filter((path) => path !== THIS_FILE);

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading?.[1]) continue;
    const base = heading[1]
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
      .replace(/ /g, "-");
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

const anchorsByPage = new Map<string, Set<string> | null>();
function anchorsOf(page: string): Set<string> | null {
  if (!anchorsByPage.has(page)) {
    const path = join(DOCS, page);
    anchorsByPage.set(page, existsSync(path) ? headingAnchors(readFileSync(path, "utf8")) : null);
  }
  return anchorsByPage.get(page) ?? null;
}

/** What is wrong with a pointer to `page` (relative to docs/) and `anchor`, or null. */
function brokenPointer(page: string, anchor: string | undefined): string | null {
  const anchors = anchorsOf(page);
  if (anchors === null) return `docs/${page} does not exist`;
  if (anchor !== undefined && !anchors.has(anchor)) return `docs/${page} has no heading #${anchor}`;
  return null;
}

/** Citations of the outside reference, case-sensitive where a lower-case word is ordinary prose. */
const OUTSIDE_CITATIONS: RegExp[] = [
  /\bcontract\s+(section\s+)?\d/i,
  /\bCONTRACT\b/,
  /\bD\d{1,2}\b/,
  /\bsection\s+(9|10)\b/i,
  /§/,
];

describe("pointers into docs/", () => {
  it("never cite the outside reference in src/ or test/", () => {
    const citations: string[] = [];
    for (const file of sourceFiles) {
      readFileSync(join(ROOT, file), "utf8")
        .split("\n")
        .forEach((line, index) => {
          if (OUTSIDE_CITATIONS.some((pattern) => pattern.test(line))) {
            citations.push(`${file}:${index + 1}: ${line.trim()}`);
          }
        });
    }
    expect(citations).toEqual([]);
  });

  it("name pages and headings that exist, from src/ and test/", () => {
    const broken: string[] = [];
    let pointers = 0;
    for (const file of sourceFiles) {
      const text = readFileSync(join(ROOT, file), "utf8");
      for (const match of text.matchAll(/\bdocs\/([\w-]+\.md)(?:#([\w-]+))?/g)) {
        pointers += 1;
        const problem = brokenPointer(match[1] as string, match[2]);
        if (problem) broken.push(`${file}: ${match[0]}: ${problem}`);
      }
    }
    expect(broken).toEqual([]);
    expect(pointers).toBeGreaterThan(0);
  });

  it("name pages and headings that exist, between the pages of docs/", () => {
    const broken: string[] = [];
    for (const page of readdirSync(DOCS).filter((name) => name.endsWith(".md"))) {
      const text = readFileSync(join(DOCS, page), "utf8");
      for (const match of text.matchAll(/\]\((?!https?:|\.\.\/)([\w-]+\.md)?(?:#([\w-]+))?\)/g)) {
        const problem = brokenPointer(match[1] ?? page, match[2]);
        if (problem) broken.push(`docs/${page}: ${match[0]}: ${problem}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("computes GitHub's anchors", () => {
    const anchors = headingAnchors(
      "# D12: settled requests\n## `message`, `message.updated`\n```\n# not a heading\n```\n## Paging\n## Paging\n## Idempotent sends: `client_id`\n",
    );
    expect([...anchors]).toEqual([
      "d12-settled-requests",
      "message-messageupdated",
      "paging",
      "paging-1",
      "idempotent-sends-client_id",
    ]);
  });
});
