// Child process for the kill -9 durability test in sqlite.test.ts (not a test itself).
// Opens the store at argv[2] and creates keys forever, in rounds of concurrent writes
// so that group commit is exercised, printing `ack <key> <revision>` for each write
// only after its promise resolved. stdout is a pipe, which Node writes synchronously
// on Linux, so a line the parent read was acknowledged before the kill.

import { openSqliteStore } from './sqlite.ts';

const path = process.argv[2];
if (path === undefined) throw new Error('usage: crash-writer.fixture.ts DB_PATH');
const store = await openSqliteStore({ path });
process.stdout.write('ready\n');
const value = JSON.stringify({ kind: 'ConfigMap', data: { payload: 'x'.repeat(200) } });
for (let round = 0; ; round++) {
  const writes = Array.from({ length: 1 + (round % 8) }, async (_, i) => {
    const key = `/registry/configmaps/crash/r${round}-${i}`;
    const result = await store.create(key, value);
    if (!result.ok) throw new Error(`create ${key} failed`);
    process.stdout.write(`ack ${key} ${result.revision}\n`);
  });
  await Promise.all(writes);
}
