import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { freshDist, STAMP } from "../scripts/dist.js";

test("dist/ runs only when its build stamp is newer than every file under src/", () => {
  const root = mkdtempSync(join(tmpdir(), "trace-dist-"));
  try {
    mkdirSync(join(root, "src", "deep", "er"), { recursive: true });
    const source = join(root, "src", "deep", "er", "a.ts");
    writeFileSync(source, "export {};\n");
    utimesSync(source, 1000, 1000);
    assert.equal(freshDist(root), false, "no build yet");

    mkdirSync(join(root, "dist"));
    const stamp = join(root, "dist", STAMP);
    writeFileSync(stamp, "built\n");
    utimesSync(stamp, 2000, 2000);
    assert.equal(freshDist(root), true);

    utimesSync(source, 3000, 3000); // edited after the build
    assert.equal(freshDist(root), false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
