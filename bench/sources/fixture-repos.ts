import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRepo } from '../../test/harness/git-repo.ts';

const GIT_ENV: NodeJS.ProcessEnv = {
  PATH: process.env['PATH'],
  LC_ALL: 'C',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'Kedge Bench',
  GIT_AUTHOR_EMAIL: 'bench@kedge.dev',
  GIT_COMMITTER_NAME: 'Kedge Bench',
  GIT_COMMITTER_EMAIL: 'bench@kedge.dev',
};

/** N git repositories `<root>/r000…`, each a copy of one small app repo (12 YAML files, ~20 KiB). */
export interface FixtureRepos {
  root: string;
  names: string[];
  /** Commits a change in repository `name` and returns the new commit id. */
  commit(name: string): string;
}

/** A typical small config repo: a kustomization and a few manifests. */
function appFiles(): Record<string, string> {
  const files: Record<string, string> = { 'deploy/kustomization.yaml': 'resources:\n' };
  for (let i = 0; i < 11; i++) {
    files['deploy/kustomization.yaml'] += `  - app-${i}.yaml\n`;
    files[`deploy/app-${i}.yaml`] =
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-${i}\ndata:\n` +
      Array.from({ length: 40 }, (_, k) => `  key${k}: "value ${i}-${k} ${'x'.repeat(20)}"\n`).join('');
  }
  return files;
}

export function createFixtureRepos(root: string, count: number): FixtureRepos {
  mkdirSync(root, { recursive: true });
  const template = createRepo({ root, name: 'template', files: appFiles() });
  const names = Array.from({ length: count }, (_, i) => `r${String(i).padStart(3, '0')}`);
  for (const name of names) cpSync(template.dir, join(root, name), { recursive: true });
  let serial = 0;
  return {
    root,
    names,
    commit(name) {
      const dir = join(root, name);
      writeFileSync(
        join(dir, 'deploy', 'app-0.yaml'),
        `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-0\ndata:\n  serial: "${++serial}"\n`,
      );
      const git = (...args: string[]): string =>
        execFileSync('git', args, { cwd: dir, env: GIT_ENV, encoding: 'utf8' }).trim();
      git('commit', '-q', '-am', `bench change ${serial}`);
      return git('rev-parse', 'HEAD');
    },
  };
}

/** GitRepository manifests (one YAML stream) for every repository, at `urlOf(name)`. */
export function gitRepositoryManifests(
  names: string[],
  urlOf: (name: string) => string,
  interval: string,
): string {
  return names
    .map(
      (name) =>
        `apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: ${name}\n  namespace: bench\n` +
        `spec:\n  url: ${urlOf(name)}\n  interval: ${interval}\n  ref:\n    branch: main\n`,
    )
    .join('---\n');
}
