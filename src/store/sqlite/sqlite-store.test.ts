import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeStoreConformance } from '../store-conformance.ts';
import { openSqliteStore } from './sqlite-store.ts';

describeStoreConformance('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kedge-store-'));
  return {
    store: await openSqliteStore(dir),
    openAnother: () => openSqliteStore(dir),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});
