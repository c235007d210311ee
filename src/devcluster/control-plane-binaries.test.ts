import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { locateControlPlaneBinaries } from './control-plane-binaries.ts';
import { DevClusterError } from './dev-cluster-error.ts';

describe('locateControlPlaneBinaries', () => {
  it('refuses a KEDGE_CONTROL_PLANE_DIR without runnable binaries, naming it, and builds nothing', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'kedge-no-binaries-'));
    try {
      const progress: string[] = [];
      const failure = await locateControlPlaneBinaries({
        env: { ...process.env, KEDGE_CONTROL_PLANE_DIR: empty },
        onProgress: (line) => progress.push(line),
      }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(DevClusterError);
      expect((failure as DevClusterError).reason).toBe('BinariesUnavailable');
      expect((failure as DevClusterError).message).toContain(
        `KEDGE_CONTROL_PLANE_DIR=${empty} does not hold runnable`,
      );
      expect(progress.join('\n')).not.toContain('compiling');
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
