import { execFile } from 'node:child_process';
import { cp, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KObject } from '../api/meta.ts';
import { packagePath } from '../package-paths.ts';

const run = promisify(execFile);

/** The bundled example shipped in `examples/hello`: an HTTP app and the manifests that run it on this host. */
export const exampleSource = packagePath('examples', 'hello');

/**
 * Makes a real local Git repository from the bundled example inside the data dir (once; later runs reuse it,
 * so the user's own commits there are kept) and returns it with the objects that make Kedge follow it.
 */
export async function prepareExampleRepository(dataDir: string): Promise<{ repoDir: string; objects: KObject[]; created: boolean }> {
  const repoDir = join(dataDir, 'example', 'hello');
  const exists = await stat(join(repoDir, '.git')).then(() => true, () => false);
  if (!exists) {
    await mkdir(repoDir, { recursive: true });
    await cp(join(exampleSource, 'repo'), repoDir, { recursive: true });
    const git = (...args: string[]) =>
      run('git', ['-c', 'user.name=Kedge Example', '-c', 'user.email=example@kedge.dev', ...args], { cwd: repoDir });
    await git('init', '--quiet', '--initial-branch=main');
    await git('add', '-A');
    await git('commit', '--quiet', '-m', 'Bundled Kedge example');
  }
  const objects: KObject[] = [
    {
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: { name: 'hello', namespace: 'default' },
      spec: { url: `file://${repoDir}`, interval: '30s', ref: { branch: 'main' } },
    },
    {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name: 'hello', namespace: 'default' },
      spec: {
        interval: '5m',
        path: './deploy',
        prune: true,
        wait: true,
        timeout: '1m',
        sourceRef: { kind: 'GitRepository', name: 'hello' },
      },
    },
  ];
  return { repoDir, objects, created: !exists };
}
