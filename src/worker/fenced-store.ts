import type { ObjectStore } from "../sink/index.ts";

/**
 * The object store as one attempt's sink sees it. Once the attempt has lost its lease, deletes
 * become no-ops: keys are deterministic, so a newer attempt may already be writing the very same
 * keys, and deleting "our" objects would delete its objects. In-flight uploads are still aborted
 * (their multipart uploads belong to this attempt alone); completed objects are byte-identical to
 * what the newer attempt writes and stay invisible until a manifest is registered.
 */
export function fencedStore(store: ObjectStore, fenceLost: () => boolean): ObjectStore {
  return {
    scheme: store.scheme,
    url: store.url,
    put: (key, body, opts) => store.put(key, body, opts),
    get: (key) => store.get(key),
    getBytes: (key, max) => store.getBytes(key, max),
    head: (key) => store.head(key),
    list: (prefix) => store.list(prefix),
    delete: async (key) => {
      if (fenceLost()) return;
      await store.delete(key);
    },
    listIncomplete: (prefix) => store.listIncomplete(prefix),
    abortIncomplete: (item) => store.abortIncomplete(item),
    fullKey: (key) => store.fullKey(key),
    storageRef: (prefix) => store.storageRef(prefix),
    // The worker owns the real store; an attempt never closes it.
    close: async () => {},
  };
}
