import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { renderKustomization } from '../src/kustomize/render.ts';
import { RendererUnavailableError } from '../src/kustomize/renderer-binary.ts';

const fixtures = path.join(import.meta.dirname, 'fixtures', 'kustomize');

describe('the kustomize renderer binary', () => {
  const saved = process.env.KEDGE_KUSTOMIZE_BIN;
  afterEach(() => {
    if (saved === undefined) delete process.env.KEDGE_KUSTOMIZE_BIN;
    else process.env.KEDGE_KUSTOMIZE_BIN = saved;
  });

  it('fails the render with BuildFailed and what to do when the renderer cannot be had, never building unconfined', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kedge-renderer-test-'));
    try {
      const fake = path.join(dir, 'kustomize');
      await writeFile(fake, '#!/bin/sh\necho "apiVersion: v1"\n', { mode: 0o755 });
      process.env.KEDGE_KUSTOMIZE_BIN = fake;
      const error = await renderKustomization({ root: fixtures, path: 'app/overlay' }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RendererUnavailableError);
      expect((error as RendererUnavailableError).reason).toBe('BuildFailed');
      expect((error as Error).message).toMatch(
        /kustomize renderer unavailable: KEDGE_KUSTOMIZE_BIN=.* is not a runnable kustomize-build binary/,
      );
      expect((error as Error).message).toMatch(/install Go .*or set KEDGE_KUSTOMIZE_BIN/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('does not remember a failure: the next render finds the renderer', async () => {
    process.env.KEDGE_KUSTOMIZE_BIN = '/nonexistent/kustomize-build';
    await expect(renderKustomization({ root: fixtures, path: 'app/overlay' })).rejects.toThrow(
      RendererUnavailableError,
    );
    delete process.env.KEDGE_KUSTOMIZE_BIN;
    const objects = await renderKustomization({ root: fixtures, path: 'app/overlay' });
    expect(objects.map((o) => o.kind)).toEqual(['Service', 'Deployment']);
  });
});
