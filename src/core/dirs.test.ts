import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ensureDir, ensureDirSync } from "./dirs.ts";

const root = mkdtempSync(join(tmpdir(), "trace-dirs-"));
after(() => rmSync(root, { recursive: true, force: true }));

test("ensureDir / ensureDirSync create every missing level with the mode, and accept existing dirs", async () => {
  const deep = join(root, "a", "b", "c");
  await ensureDir(deep, 0o700);
  assert.ok(statSync(deep).isDirectory());
  assert.equal(statSync(join(root, "a")).mode & 0o777, 0o700);
  await ensureDir(deep, 0o700);
  const deepSync = join(root, "s", "t");
  ensureDirSync(deepSync, 0o700);
  ensureDirSync(deepSync, 0o700);
  assert.ok(statSync(deepSync).isDirectory());
});

test("a file in the way is ENOTDIR, for the file itself and below it", async () => {
  const file = join(root, "file");
  writeFileSync(file, "x");
  for (const dir of [file, join(file, "below")]) {
    await assert.rejects(ensureDir(dir), { code: "ENOTDIR" }, dir);
    assert.throws(() => ensureDirSync(dir), { code: "ENOTDIR" }, dir);
  }
});

// Node's recursive mkdir never returns here (it spins between /proc/… ENOENT and /proc EEXIST).
test("a parent that refuses the child (procfs) fails with ENOENT instead of spinning", {
  skip: existsSync("/proc/self") ? false : "no procfs",
}, async () => {
  const dir = "/proc/trace-no-such-dir/out";
  await assert.rejects(ensureDir(dir, 0o700), (err: NodeJS.ErrnoException) => {
    assert.equal(err.code, "ENOENT");
    assert.match(err.message, /cannot create a directory here .*mkdir '\/proc\/trace-no-such-dir'/);
    return true;
  });
  assert.throws(() => ensureDirSync(dir), { code: "ENOENT" });
});
