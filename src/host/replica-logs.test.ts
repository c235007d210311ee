import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { rotateReplicaLog } from './replica-logs.ts';

let dir: string;
afterEach(async () => rm(dir, { recursive: true, force: true }));

describe('rotateReplicaLog', () => {
  it('keeps a small log, and shifts a large one into numbered generations', async () => {
    dir = await mkdtemp(join(tmpdir(), 'kedge-logs-'));
    const file = join(dir, 'replica-0.log');
    await writeFile(file, 'small\n');
    expect(rotateReplicaLog(file, 100)).toBe(false);

    await writeFile(file, 'first generation\n'.repeat(10));
    expect(rotateReplicaLog(file, 100, 2)).toBe(true);
    await writeFile(file, 'second generation\n'.repeat(10));
    expect(rotateReplicaLog(file, 100, 2)).toBe(true);

    expect(await readFile(file, 'utf8')).toBe('');
    expect(await readFile(`${file}.1`, 'utf8')).toMatch(/^second generation/);
    expect(await readFile(`${file}.2`, 'utf8')).toMatch(/^first generation/);
  });
});
