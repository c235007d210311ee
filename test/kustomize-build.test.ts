import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KObject } from '../src/api/meta.ts';
import { BuildError } from '../src/kustomize/build.ts';
import { GenerateError } from '../src/kustomize/generate.ts';
import { RenderCache } from '../src/kustomize/render-cache.ts';
import { renderKustomization, type RenderOptions } from '../src/kustomize/render.ts';
import {
  DigestMismatchError,
  extractArtifact,
  PathEscapeError,
  PathNotFoundError,
  resolveInside,
  UnsafeArchiveError,
} from '../src/kustomize/safe-extract.ts';
import { SubstitutionError } from '../src/kustomize/substitute.ts';

const fixtures = path.join(import.meta.dirname, 'fixtures', 'kustomize');
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'kedge-kustomize-test-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const ids = (objs: KObject[]) => objs.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
const find = (objs: KObject[], kind: string, name: string): KObject => {
  const found = objs.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`${kind}/${name} not rendered; got ${ids(objs).join(', ')}`);
  return found;
};
const containerImage = (obj: KObject) =>
  (obj.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]?.image;

/** Every path under `dir` with its content (directories as ''), to prove a render wrote nothing there. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    out[path.relative(dir, full)] = entry.isFile() ? await readFile(full, 'utf8') : entry.isDirectory() ? '' : 'other';
  }
  return out;
}

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(scratch, 'tree-'));
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), content);
  }
  return dir;
}

describe.each([
  { mode: 'on a private copy', shared: false },
  { mode: 'from a shared root, in a private overlay dir', shared: true },
])('renderKustomization $mode', ({ shared }) => {
  // The shared mode creates (and removes) its overlay dirs inside the root: give it a copy of the fixtures.
  let root = fixtures;
  beforeAll(async () => {
    if (!shared) return;
    root = await mkdtemp(path.join(scratch, 'shared-'));
    await cp(fixtures, root, { recursive: true });
  });
  const render = (opts: Partial<RenderOptions>) => renderKustomization({ root, sharedRoot: shared, ...opts });
  const renderIn = (tree: string, opts: Partial<RenderOptions>) => renderKustomization({ root: tree, sharedRoot: shared, ...opts });

  it('generates a kustomization for plain YAML, recursing, taking sub-kustomizations whole, ignoring non-YAML', async () => {
    const objs = await render({ path: 'plain' });
    expect(ids(objs).sort()).toEqual(['ConfigMap//raw-script', 'ConfigMap//settings', 'Deployment//web', 'Secret//token']);
  });

  it('leaves the artifact untouched, with nothing left behind', async () => {
    const before = await snapshot(root);
    await render({ path: 'plain', overlay: { namePrefix: 'x-' } });
    await render({ path: 'app/overlay', overlay: { namePrefix: 'x-' } });
    await render({ path: 'missing-resource' }).catch(() => undefined);
    expect(await readdir(path.join(root, 'plain'))).not.toContain('kustomization.yaml');
    expect(await readFile(path.join(root, 'app/overlay/kustomization.yaml'), 'utf8')).not.toContain('x-');
    expect(await snapshot(root)).toEqual(before);
  });

  it('builds an existing kustomization with a base, keeping its own images', async () => {
    const objs = await render({ path: './app/overlay' });
    expect(ids(objs)).toEqual(['Service//web', 'Deployment//web']);
    expect(containerImage(find(objs, 'Deployment', 'web'))).toBe('nginx:1.26');
  });

  it.each<[string, RenderOptions['overlay'], (objs: KObject[]) => void]>([
    ['namePrefix and nameSuffix', { namePrefix: 'pre-', nameSuffix: '-suf' }, (objs) => {
      expect(ids(objs)).toEqual(['Service//pre-web-suf', 'Deployment//pre-web-suf']);
    }],
    ['targetNamespace', { targetNamespace: 'apps' }, (objs) => {
      expect(objs.every((o) => o.metadata.namespace === 'apps')).toBe(true);
    }],
    ['strategic merge patch with a label-selector target', {
      patches: [{ patch: 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: any\nspec:\n  replicas: 5\n', target: { kind: 'Deployment', labelSelector: 'app=web' } }],
    }, (objs) => {
      expect((find(objs, 'Deployment', 'web').spec as { replicas: number }).replicas).toBe(5);
    }],
    ['JSON6902 patch with a name target', {
      patches: [{ patch: '- op: add\n  path: /metadata/annotations\n  value: {patched: "yes"}\n', target: { kind: 'Service', name: 'w.*' } }],
    }, (objs) => {
      expect(find(objs, 'Service', 'web').metadata.annotations).toEqual({ patched: 'yes' });
      expect(find(objs, 'Deployment', 'web').metadata.annotations).toBeUndefined();
    }],
    ['images replacing the file’s entry of the same name', { images: [{ name: 'nginx', newName: 'registry.local/nginx', newTag: '2.0' }] }, (objs) => {
      expect(containerImage(find(objs, 'Deployment', 'web'))).toBe('registry.local/nginx:2.0');
    }],
    ['components', { components: ['../components/monitoring'] }, (objs) => {
      expect(find(objs, 'ConfigMap', 'monitoring').data).toEqual({ scrape: 'true' });
    }],
    ['missing components ignored when asked', { components: ['../components/absent'], ignoreMissingComponents: true }, (objs) => {
      expect(objs).toHaveLength(2);
    }],
    ['commonMetadata on metadata only, overriding, not on selectors', {
      commonMetadata: { labels: { app: 'override', team: 'a' }, annotations: { owner: 'ops' } },
    }, (objs) => {
      const dep = find(objs, 'Deployment', 'web');
      expect(dep.metadata.labels).toEqual({ app: 'override', team: 'a' });
      expect(dep.metadata.annotations).toEqual({ owner: 'ops' });
      expect((dep.spec as { selector: { matchLabels: object } }).selector.matchLabels).toEqual({ app: 'web' });
    }],
  ])('overlay: %s', async (_name, overlay, check) => {
    check(await render({ path: 'app/overlay', overlay }));
  });

  it('fails on a missing component unless told to ignore it', async () => {
    await expect(render({ path: 'app/overlay', overlay: { components: ['../components/absent'] } })).rejects.toThrow(GenerateError);
  });

  it('substitutes post-build variables with precedence, defaults and the disabled annotation', async () => {
    const objs = await render({
      path: 'plain',
      substitutions: { substituteFrom: [{ user: 'cm', token: 'from-cm' }, { token: 'from-secret' }], substitute: { user: 'inline' } },
    });
    expect(find(objs, 'ConfigMap', 'settings').data).toEqual({ region: 'us-east-1', greeting: 'hello inline' });
    expect(find(objs, 'Secret', 'token').stringData).toEqual({ token: 'from-secret' });
    expect(find(objs, 'ConfigMap', 'raw-script').data).toEqual({ 'run.sh': 'echo ${HOME}' });
  });

  it('fails strict substitution naming the object and variable', async () => {
    const run = render({ path: 'plain', substitutions: { substitute: { region: 'eu' }, strict: true } });
    await expect(run).rejects.toThrow(SubstitutionError);
    await expect(run).rejects.toThrow(/'ConfigMap\/settings'.*"user"/);
  });

  it('reports malformed YAML with kustomize’s words and the file relative to the root', async () => {
    const error = await render({ path: 'broken-yaml' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BuildError);
    expect((error as BuildError).message).toMatch(/kustomize build failed: .*MalformedYAMLError: yaml: line \d+/);
    expect((error as BuildError).file).toBe('broken-yaml/bad.yaml');
    expect((error as BuildError).message).toContain('broken-yaml/bad.yaml');
    expect((error as BuildError).message).not.toContain(tmpdir());
  });

  it('reports a missing resource with the path relative to the root', async () => {
    const error = await render({ path: 'missing-resource' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BuildError);
    expect((error as BuildError).message).toContain("accumulating resources from 'gone.yaml'");
    expect((error as BuildError).message).toContain('missing-resource/gone.yaml');
    expect((error as BuildError).message).not.toContain(tmpdir());
  });

  it('renders nothing from a directory without manifests', async () => {
    const root = await tree({ 'empty/notes.txt': 'hello' });
    expect(await renderIn(root, { path: 'empty' })).toEqual([]);
  });

  it('refuses plain YAML that does not decode, naming the file', async () => {
    const root = await tree({ 'apps/ok.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n', 'apps/bad.yaml': 'a: [\n' });
    await expect(renderIn(root, { path: 'apps' })).rejects.toThrow(
      /failed to decode Kubernetes YAML from apps\/bad\.yaml/,
    );
  });

  it('refuses kustomizations that load files from outside the root', async () => {
    const root = await tree({
      'app/kustomization.yaml': 'resources:\n  - ../../outside.yaml\n',
    });
    await expect(renderIn(root, { path: 'app' })).rejects.toThrow(BuildError);
    await expect(renderIn(root, { path: 'app' })).rejects.toThrow(/'\.\.\/\.\.\/outside\.yaml'.*outside the artifact root/);
  });

  it.each([['../'], ['apps/../../x']])('rejects spec.path %s escaping the root', async (p) => {
    await expect(render({ path: p })).rejects.toThrow(PathEscapeError);
  });

  it('reports a spec.path that does not exist', async () => {
    await expect(render({ path: 'nope' })).rejects.toThrow(PathNotFoundError);
  });

  it('serves an unchanged revision from the cache without building', async () => {
    const cache = new RenderCache();
    const opts = { path: 'app/overlay', digest: `sha256:${'a'.repeat(64)}`, cache, cacheSlot: 'default/app', overlay: { namePrefix: 'c-' } };
    const first = await render(opts);
    const second = await render({ ...opts, overlay: { namePrefix: 'c-' } });
    expect(second).toEqual(first);
    expect(cache.misses).toBe(1);
    expect(cache.hits).toBe(1);
    await render({ ...opts, overlay: { namePrefix: 'd-' } });
    expect(cache.misses).toBe(2);
    await render({ ...opts, digest: `sha256:${'b'.repeat(64)}` });
    expect(cache.misses).toBe(3);
  });
});

describe('extractArtifact', () => {
  type Raw = { path: string; type: string; body?: string; linkpath?: string };
  async function rawArchive(entries: Raw[]): Promise<string> {
    const blocks: Buffer[] = [];
    for (const e of entries) {
      const body = Buffer.from(e.body ?? '');
      const header = new tar.Header({ path: e.path, type: e.type as tar.Header['type'], size: body.length, mode: 0o644, mtime: new Date(0), linkpath: e.linkpath });
      const block = Buffer.alloc(512);
      header.encode(block, 0);
      blocks.push(block, body, Buffer.alloc((512 - (body.length % 512)) % 512));
    }
    blocks.push(Buffer.alloc(1024));
    const file = path.join(await mkdtemp(path.join(scratch, 'archive-')), 'artifact.tar.gz');
    await writeFile(file, gzipSync(Buffer.concat(blocks)));
    return file;
  }
  const sha = async (file: string) => `sha256:${createHash('sha256').update(await readFile(file)).digest('hex')}`;

  it('extracts a well-formed artifact after verifying its digest', async () => {
    const file = await rawArchive([
      { path: 'deploy/', type: 'Directory' },
      { path: 'deploy/cm.yaml', type: 'File', body: 'kind: ConfigMap\n' },
    ]);
    const dir = await extractArtifact(file, { digest: await sha(file) });
    expect(await readFile(path.join(dir, 'deploy/cm.yaml'), 'utf8')).toBe('kind: ConfigMap\n');
    await rm(dir, { recursive: true });
  });

  it('rejects bytes that do not match the digest', async () => {
    const file = await rawArchive([{ path: 'a.yaml', type: 'File', body: 'x' }]);
    await expect(extractArtifact(file, { digest: `sha256:${'0'.repeat(64)}` })).rejects.toThrow(DigestMismatchError);
  });

  it.each<[string, Raw, RegExp]>([
    ['absolute path', { path: '/tmp/kedge-evil', type: 'File', body: 'x' }, /absolute path/],
    ['parent traversal', { path: 'a/../../evil', type: 'File', body: 'x' }, /'\.\.' in path/],
    ['symlink', { path: 'link', type: 'SymbolicLink', linkpath: '/etc/passwd' }, /SymbolicLink entries are not allowed/],
    ['hard link', { path: 'hard', type: 'Link', linkpath: 'a.yaml' }, /Link entries are not allowed/],
    ['character device', { path: 'dev', type: 'CharacterDevice' }, /CharacterDevice entries are not allowed/],
    ['block device', { path: 'blk', type: 'BlockDevice' }, /BlockDevice entries are not allowed/],
    ['fifo', { path: 'pipe', type: 'FIFO' }, /FIFO entries are not allowed/],
  ])('rejects an archive with a %s and writes nothing', async (_name, hostile, message) => {
    const file = await rawArchive([{ path: 'a.yaml', type: 'File', body: 'x' }, hostile]);
    const before = await readdir(tmpdir());
    const error = await extractArtifact(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafeArchiveError);
    expect((error as Error).message).toMatch(message);
    expect((await readdir(tmpdir())).filter((d) => d.startsWith('kedge-artifact-') && !before.includes(d))).toEqual([]);
  });
});

describe('resolveInside', () => {
  it('resolves inside the root, treating a leading slash as the root as Flux does', async () => {
    const root = await tree({ 'apps/prod/x.yaml': '' });
    expect(await resolveInside(root, './apps/prod')).toBe(path.join(root, 'apps/prod'));
    expect(await resolveInside(root, '/apps')).toBe(path.join(root, 'apps'));
    expect(await resolveInside(root, '')).toBe(root);
  });

  it('rejects a symlink pointing outside the root', async () => {
    const root = await tree({ 'a.yaml': '' });
    await symlink(tmpdir(), path.join(root, 'out'));
    await expect(resolveInside(root, 'out')).rejects.toThrow(PathEscapeError);
  });
});
