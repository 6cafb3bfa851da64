// The refresh token's one place: IndexedDB, which every tab of this site
// shares. Not localStorage: Chromium copies localStorage between tabs (each a
// process of its own) some time after a write, so a tab that takes the refresh
// lock right after another released it could still read the token that the
// other tab has just spent. A committed IndexedDB transaction is seen by every
// transaction that starts after it, in any tab.

const DATABASE = "chat";
const STORE = "session";
const KEY = "refresh";

let opened = null;

function database() {
  opened ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DATABASE, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opened;
}

/** Run one request in a transaction; its result once the transaction has committed. */
async function transact(mode, work) {
  const db = await database();
  return new Promise((resolve, reject) => {
    const transaction = db.transaction(STORE, mode);
    const request = work(transaction.objectStore(STORE));
    transaction.oncomplete = () => resolve(request.result);
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

export async function readRefreshToken() {
  return (await transact("readonly", (store) => store.get(KEY))) ?? null;
}

export function writeRefreshToken(token) {
  return transact("readwrite", (store) => store.put(token, KEY));
}

export function deleteRefreshToken() {
  return transact("readwrite", (store) => store.delete(KEY));
}
