import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration.ts';
import { ManifestError, parseManifests } from './manifest.ts';

const repo = (spec: string) => `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: podinfo
  namespace: flux-system
spec:
${spec}`;

function problemsOf(text: string): string[] {
  try {
    parseManifests(text, 'repo.yaml');
  } catch (error) {
    if (error instanceof ManifestError) return error.message.split('\n');
    throw error;
  }
  return [];
}

describe('parseManifests', () => {
  it('accepts a Flux GitRepository unchanged and defaults nothing it should not', () => {
    const [obj] = parseManifests(
      repo('  interval: 1m\n  url: https://github.com/stefanprodan/podinfo\n  ref:\n    branch: master\n'),
      'repo.yaml',
    );
    expect(obj).toEqual({
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: { name: 'podinfo', namespace: 'flux-system' },
      spec: { interval: '1m', url: 'https://github.com/stefanprodan/podinfo', ref: { branch: 'master' } },
    });
  });

  it.each([
    ['unknown field', '  interval: 1m\n  url: file:///x\n  branch: main\n', "repo.yaml: document 1 (GitRepository flux-system/podinfo): spec: unknown field 'branch'"],
    ['bad duration', '  interval: 1 minute\n  url: file:///x\n', 'repo.yaml: document 1 (GitRepository flux-system/podinfo): spec.interval: must be a duration such as 30s, 5m or 1h'],
    ['short commit', '  interval: 1m\n  url: file:///x\n  ref: {commit: abc}\n', 'repo.yaml: document 1 (GitRepository flux-system/podinfo): spec.ref.commit: must be a full 40-character SHA-1 commit hash'],
    ['bad scheme', '  interval: 1m\n  url: ftp://x\n', 'repo.yaml: document 1 (GitRepository flux-system/podinfo): spec.url: must be an http(s)://, ssh://, git:// or file:// URL'],
  ])('rejects %s naming file, document and field', (_name, spec, expected) => {
    expect(problemsOf(repo(spec))).toEqual([expected]);
  });

  it('reports every problem of every document at once', () => {
    const text = `${repo('  url: file:///x\n')}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\n---\nkey: [unclosed\n`;
    const problems = problemsOf(text);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/document 1 .*spec\.interval/);
    expect(problems[1]).toMatch(/document 2 \(Pod default\/p\): kind Pod of apiVersion v1 is not one Kedge stores/);
    expect(problems[2]).toMatch(/document 3: invalid YAML/);
  });

  it('reads a Secret with data and stringData', () => {
    const [secret] = parseManifests('apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {username: u}\n', 's.yaml');
    expect(secret).toMatchObject({ kind: 'Secret', metadata: { namespace: 'default' }, stringData: { username: 'u' } });
  });
});

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['1m30s', 90_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
  ])('%s is %i ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it('rejects a bare number', () => expect(() => parseDuration('10')).toThrow(/invalid duration/));
});
