import { randomBytes } from "node:crypto";
import { type Dirent, constants as fsc } from "node:fs";
import { lstat, open, readdir, rename, unlink } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { pathToFileURL } from "node:url";
import { ensureDir } from "../core/dirs.ts";
import { FatalError } from "../core/errors.ts";
import type { ByteSource, PutResult, StorageRef } from "../core/types.ts";
import { meterBody } from "./body.ts";
import { TEMP_SUFFIX, validateKey, validateListPrefix, validatePrefix } from "./keys.ts";
import type { IncompleteUpload, ObjectStore, PutOptions, StoredObject } from "./object-store.ts";
import { storageError } from "./storage-errors.ts";

/**
 * A folder as an object store. Writes go to `{final}.{random}.trace-tmp` in the same directory,
 * are fsynced, renamed into place and the directory fsynced, so a reader (or a crash) sees
 * either the whole object or nothing at the final name. Directories 0700, files 0600: artifacts
 * of untrusted chain data are private to the service user until the query service serves them.
 */
export class FileObjectStore implements ObjectStore {
  readonly scheme = "file" as const;
  readonly url: string;
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.url = pathToFileURL(this.root.endsWith(sep) ? this.root : this.root + sep).href;
  }

  private path(key: string): string {
    const p = join(this.root, ...validateKey(key).split("/"));
    // validateKey already refuses traversal; this is the belt to its braces.
    if (relative(this.root, p).startsWith(".."))
      throw new FatalError("key escapes the store root", { category: "invalid_object_name" });
    return p;
  }

  async put(key: string, body: ByteSource | Uint8Array, opts: PutOptions = {}): Promise<PutResult> {
    const finalPath = this.path(key);
    const metered = meterBody(body, opts);
    const tmp = `${finalPath}.${randomBytes(8).toString("hex")}${TEMP_SUFFIX}`;
    let created = false;
    try {
      await ensureDir(dirname(finalPath), 0o700);
      const fh = await open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
      created = true;
      try {
        for await (const chunk of metered.chunks) {
          let off = 0;
          while (off < chunk.byteLength) {
            const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off);
            off += bytesWritten;
          }
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, finalPath);
      created = false;
      await fsyncDir(dirname(finalPath));
    } catch (err) {
      if (created) await unlink(tmp).catch(() => {});
      if (metered.bodyError !== undefined) throw metered.bodyError;
      throw storageError(err, `writing object ${key}`);
    }
    return { key, size: metered.size, sha256: metered.sha256() };
  }

  async get(key: string): Promise<Readable> {
    try {
      const fh = await open(this.path(key), fsc.O_RDONLY | fsc.O_NOFOLLOW);
      return fh.createReadStream();
    } catch (err) {
      throw storageError(err, `reading object ${key}`);
    }
  }

  async getBytes(key: string, maxBytes: number): Promise<Buffer> {
    try {
      const fh = await open(this.path(key), fsc.O_RDONLY | fsc.O_NOFOLLOW);
      try {
        const { size } = await fh.stat();
        if (size > maxBytes)
          throw new FatalError(
            `object ${key} is ${size} bytes, more than the allowed ${maxBytes}`,
            {
              category: "object_too_large",
            },
          );
        return await fh.readFile();
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw storageError(err, `reading object ${key}`);
    }
  }

  async head(key: string): Promise<{ size: number } | undefined> {
    try {
      const st = await lstat(this.path(key));
      return st.isFile() ? { size: st.size } : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw storageError(err, `inspecting object ${key}`);
    }
  }

  /** Regular files under `prefix` (symlinks never followed), temp files split from complete ones. */
  private async walk(prefix: string): Promise<{ key: string; size: number; mtime: Date }[]> {
    validateListPrefix(prefix);
    const slash = prefix.lastIndexOf("/");
    const startKey = slash < 0 ? "" : prefix.slice(0, slash);
    const out: { key: string; size: number; mtime: Date }[] = [];
    const visit = async (dirKey: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await readdir(dirKey === "" ? this.root : join(this.root, dirKey), {
          withFileTypes: true,
        });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") return;
        throw storageError(err, `listing ${prefix}`);
      }
      for (const e of entries) {
        const key = dirKey === "" ? e.name : `${dirKey}/${e.name}`;
        if (e.isDirectory()) {
          // Only descend where keys can still start with the prefix.
          if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) await visit(key);
        } else if (e.isFile() && key.startsWith(prefix)) {
          try {
            const st = await lstat(join(this.root, key));
            out.push({ key, size: st.size, mtime: st.mtime });
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "ENOENT")
              throw storageError(err, `listing ${prefix}`);
          }
        }
      }
    };
    await visit(startKey);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async list(prefix: string): Promise<StoredObject[]> {
    return (await this.walk(prefix))
      .filter((f) => !f.key.endsWith(TEMP_SUFFIX))
      .map(({ key, size }) => ({ key, size }));
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.path(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw storageError(err, `deleting object ${key}`);
    }
  }

  async listIncomplete(prefix: string): Promise<IncompleteUpload[]> {
    const temp = /^(.*)\.[0-9a-f]{16}\.trace-tmp$/;
    const out: IncompleteUpload[] = [];
    for (const f of await this.walk(prefix)) {
      const m = temp.exec(f.key);
      if (m) out.push({ key: m[1]!, uploadId: f.key, initiated: f.mtime });
    }
    return out;
  }

  async abortIncomplete(item: IncompleteUpload): Promise<void> {
    // Only ever remove our own temp files, whatever the caller passes in.
    if (!item.uploadId.endsWith(TEMP_SUFFIX) || !item.uploadId.startsWith(`${item.key}.`))
      throw new FatalError(`not a temp file of ${item.key}: ${item.uploadId}`, {
        category: "invalid_object_name",
      });
    const path = join(this.root, ...item.uploadId.split("/"));
    if (relative(this.root, path).startsWith("..") || item.uploadId.split("/").includes(".."))
      throw new FatalError("temp file escapes the store root", { category: "invalid_object_name" });
    try {
      await unlink(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw storageError(err, `removing temp file ${item.uploadId}`);
    }
  }

  fullKey(key: string): string {
    const base = this.root === sep ? "" : `${this.root.slice(1).split(sep).join("/")}/`;
    return base + key;
  }

  storageRef(prefix: string): StorageRef {
    validatePrefix(prefix);
    return { scheme: "file", prefix: `/${this.fullKey(prefix)}`, glob: "*.parquet" };
  }

  async close(): Promise<void> {}
}

/** Makes a rename durable: the directory entry itself must reach the disk. */
async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
