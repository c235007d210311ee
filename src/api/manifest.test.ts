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

  const ks = (spec: string) =>
    `apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app}\nspec:\n  prune: true\n  sourceRef: {kind: GitRepository, name: repo}\n${spec}`;
  const provider = (spec: string) =>
    `apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\nmetadata: {name: p}\nspec:\n  type: generic\n  address: http://127.0.0.1/\n${spec}`;
  const receiver = (spec: string) =>
    `apiVersion: notification.toolkit.fluxcd.io/v1\nkind: Receiver\nmetadata: {name: r}\nspec:\n  type: generic\n  secretRef: {name: t}\n  resources: [{kind: GitRepository, name: repo}]\n${spec}`;
  const zero = 'must be greater than zero, e.g. 30s, 5m or 1h';
  it.each([
    ['GitRepository interval 0s', repo('  interval: 0s\n  url: file:///x\n'), 'GitRepository flux-system/podinfo', 'spec.interval'],
    ['GitRepository timeout 0m0s', repo('  interval: 1m\n  timeout: 0m0s\n  url: file:///x\n'), 'GitRepository flux-system/podinfo', 'spec.timeout'],
    ['Kustomization interval 0ms', ks('  interval: 0ms\n'), 'Kustomization default/app', 'spec.interval'],
    ['Kustomization retryInterval 0s', ks('  interval: 1m\n  retryInterval: 0s\n'), 'Kustomization default/app', 'spec.retryInterval'],
    ['Kustomization timeout 0.0h', ks('  interval: 1m\n  timeout: 0.0h\n'), 'Kustomization default/app', 'spec.timeout'],
    ['Kustomization interval below 1ms', ks('  interval: 0.4ms\n'), 'Kustomization default/app', 'spec.interval'],
    ['Provider timeout 0s', provider('  timeout: 0s\n'), 'Provider default/p', 'spec.timeout'],
    ['Provider interval 0s', provider('  interval: 0s\n'), 'Provider default/p', 'spec.interval'],
    ['Receiver interval 0s', receiver('  interval: 0s\n'), 'Receiver default/r', 'spec.interval'],
  ])('rejects a zero duration: %s, naming the object and field', (_name, text, object, field) => {
    expect(problemsOf(text)).toEqual([`repo.yaml: document 1 (${object}): ${field}: ${zero}`]);
  });

  it.each([
    ['negative', '-1s', 'must be a duration such as 30s, 5m or 1h'],
    ['bare zero', '0', 'must be a duration such as 30s, 5m or 1h'],
  ])('rejects a %s interval once, as not a duration', (_name, value, message) => {
    expect(problemsOf(ks(`  interval: '${value}'\n`))).toEqual([`repo.yaml: document 1 (Kustomization default/app): spec.interval: ${message}`]);
  });

  it.each(['1ms', '1s', '0.5s', '0h1m', '1h0m0s'])('accepts the positive duration %s', (value) => {
    expect(problemsOf(ks(`  interval: ${value}\n  retryInterval: ${value}\n  timeout: ${value}\n`))).toEqual([]);
  });

  it('reports every zero duration of an object at once', () => {
    expect(problemsOf(ks('  interval: 0s\n  retryInterval: 0s\n  timeout: 0s\n')).map((p) => p.split(': ')[2])).toEqual([
      'spec.interval',
      'spec.retryInterval',
      'spec.timeout',
    ]);
  });

  it.each([
    ['Receiver resourceFilter', receiver("  resourceFilter: \"res.metadata.name == 'app' &&\"\n"), "spec.resourceFilter: invalid CEL expression 'res.metadata.name == 'app' &&': Unexpected token: EOF at line 1, column 30"],
    ['Receiver resourceFilter returning a string', receiver("  resourceFilter: res.metadata.name + '-x'\n"), "spec.resourceFilter: invalid CEL expression 'res.metadata.name + '-x'': it must return bool, not string"],
    ['Receiver resources[].filter', receiver('').replace('name: repo}', 'name: "*", filter: "claims.sub == 1"}'), "spec.resources.0.filter: invalid CEL expression 'claims.sub == 1': Unknown variable: claims at line 1, column 1"],
    ['Provider commitStatusExpr', provider('  commitStatusExpr: "event.metadata.env +"\n').replace('type: generic', 'type: github'), "spec.commitStatusExpr: invalid CEL expression 'event.metadata.env +': Unexpected token: EOF at line 1, column 21"],
    ['Provider commitStatusExpr on a chat provider', provider("  commitStatusExpr: \"'x'\"\n"), 'spec.commitStatusExpr: commitStatusExpr is only supported for the provider types github, gitlab, gitea, bitbucketserver, bitbucket, azuredevops'],
  ])('refuses a CEL expression Flux would refuse: %s', (_name, text, message) => {
    const problems = problemsOf(text);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(message);
  });

  it('accepts the CEL fields of Receivers and Providers', () => {
    const withFilter = receiver("  resourceFilter: \"res.metadata.name == 'app' && req.ref == 'refs/heads/main'\"\n");
    expect(problemsOf(withFilter.replace('resources: [{kind: GitRepository, name: repo}]', 'resources: [{kind: GitRepository, name: "*", filter: "has(res.metadata.labels)"}]'))).toEqual([]);
    const github = provider("  commitStatusExpr: \"event.involvedObject.name + '/' + alert.metadata.name\"\n").replace('type: generic', 'type: github');
    expect(problemsOf(github)).toEqual([]);
  });

  const oci = (spec: string) =>
    `apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: app}\nspec:\n  interval: 1m\n${spec}`;

  it("accepts Flux's OCIRepository sample unchanged", () => {
    const [obj] = parseManifests(oci('  url: oci://ghcr.io/stefanprodan/manifests/podinfo\n  ref:\n    tag: 6.1.6\n'), 'oci.yaml');
    expect(obj).toMatchObject({
      kind: 'OCIRepository',
      spec: { interval: '1m', url: 'oci://ghcr.io/stefanprodan/manifests/podinfo', ref: { tag: '6.1.6' } },
    });
  });

  it.each([
    ['an http URL', '  url: https://ghcr.io/org/app\n', "spec.url: must be an oci:// URL: 'oci://<registry>/<repository>'"],
    ['a tag in the URL', '  url: oci://ghcr.io/org/app:v1\n', "spec.url: URL must not contain a tag; remove ':v1'"],
    ['uppercase in the repository', '  url: oci://ghcr.io/Org/App\n', "spec.url: invalid repository 'Org/App'"],
    ['a short digest', '  url: oci://ghcr.io/org/app\n  ref: {digest: "sha256:abc"}\n', "spec.ref.digest: must be a digest such as 'sha256:<64 hex digits>'"],
    ['an unknown layer operation', '  url: oci://ghcr.io/org/app\n  layerSelector: {operation: unpack}\n', 'spec.layerSelector.operation'],
  ])('refuses an OCIRepository with %s', (_name, spec, message) => {
    const problems = problemsOf(oci(spec));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(message);
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
