/**
 * The library links the embedded PostgreSQL binaries need are made when npm skipped the platform
 * package's install script (npm --ignore-scripts, or an npm that blocks unapproved install scripts).
 * Without them the server does not start: "libicui18n.so.60: cannot open shared object file".
 */
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { hydrateLibraryLinks } from "../../scripts/lib/postgres-binaries";

describe("hydrateLibraryLinks", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("makes the missing links of native/pg-symlinks.json, relative, and leaves existing ones alone", () => {
    dir = mkdtempSync(path.join(tmpdir(), "braumchat-pglinks-"));
    const lib = path.join(dir, "native", "lib");
    mkdirSync(lib, { recursive: true });
    writeFileSync(path.join(lib, "libicuuc.so.60.2"), "the library");
    writeFileSync(path.join(lib, "libpq.so.5"), "a file already there");
    writeFileSync(
      path.join(dir, "native", "pg-symlinks.json"),
      JSON.stringify([
        { source: "native/lib/libicuuc.so.60.2", target: "native/lib/libicuuc.so.60" },
        { source: "native/lib/libicuuc.so.60.2", target: "native/lib/libicuuc.so" },
        { source: "native/lib/libpq.so.5.17", target: "native/lib/libpq.so.5" },
      ]),
    );

    hydrateLibraryLinks(dir);
    hydrateLibraryLinks(dir); // twice: nothing to do the second time

    expect(readlinkSync(path.join(lib, "libicuuc.so.60"))).toBe("libicuuc.so.60.2");
    expect(readFileSync(path.join(lib, "libicuuc.so"), "utf8")).toBe("the library");
    expect(readFileSync(path.join(lib, "libpq.so.5"), "utf8")).toBe("a file already there");
  });

  it("does nothing for a package without a list of links", () => {
    dir = mkdtempSync(path.join(tmpdir(), "braumchat-pglinks-"));
    expect(() => hydrateLibraryLinks(dir as string)).not.toThrow();
  });
});
