import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { access, chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildError, kustomizeBuild } from '../src/kustomize/build.ts';
import { GenerateError } from '../src/kustomize/generate.ts';
import { renderKustomization } from '../src/kustomize/render.ts';

// Every field through which a kustomization reads a file, pointed at a real file outside the artifact root
// that holds a known secret. The build must fail naming the reference, and the secret must appear nowhere.
// Each case also runs once with the same file copied inside the root: that build must read it (and, where
// the field puts file content into objects, print the secret), which proves the case reaches the read path.

let scratch: string;
const SECRET = `kedge-host-secret-${randomBytes(8).toString('hex')}`;
const SECRET_B64 = Buffer.from(SECRET).toString('base64');

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'kedge-confine-test-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function write(base: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(base, rel)), { recursive: true });
    await writeFile(path.join(base, rel), content);
  }
}

const target = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: target}\ndata: {k: v}\n';
const smpPatch = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: target}\ndata: {leak: ${SECRET}}\n`;
const jsonPatch = `- op: add\n  path: /data/leak\n  value: ${SECRET}\n`;
const labelTransformer = `apiVersion: builtin\nkind: LabelTransformer\nmetadata: {name: t}\nlabels: {leak: ${SECRET}}\nfieldSpecs: [{path: metadata/labels, create: true}]\n`;
const cmGeneratorConfig = `apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata: {name: leak}\nliterals: [leak=${SECRET}]\n`;
const replacement = `- source: {kind: ConfigMap, name: target, fieldPath: data.k}\n  targets:\n    - select: {kind: ConfigMap, name: target}\n      fieldPaths: [metadata.annotations.${SECRET}]\n      options: {create: true}\n`;
const leakingConfigMap = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: leak}\ndata: {leak: ${SECRET}}\n`;
const indent = (text: string, by: string) => text.replace(/^/gm, by).trimEnd();

interface Case {
  /** The field (and how it is reached). */
  field: string;
  /** The outside thing REF points at: a file's content, or a directory's files. */
  outside: string | Record<string, string>;
  /** Files inside the root; `REF` is replaced by the reference under test. The build runs on `app/`. */
  files: Record<string, string>;
  /** Whether a build that may read the file prints the secret (else it only reads it). */
  leaks: boolean;
}

const cases: Case[] = [
  {
    field: 'resources (file)',
    outside: leakingConfigMap,
    files: { 'app/kustomization.yaml': 'resources: [cm.yaml, REF]\n' },
    leaks: true,
  },
  {
    field: 'resources (directory)',
    outside: { 'kustomization.yaml': 'resources: [leak.yaml]\n', 'leak.yaml': leakingConfigMap },
    files: { 'app/kustomization.yaml': 'resources: [cm.yaml, REF]\n' },
    leaks: true,
  },
  {
    field: 'components',
    outside: {
      'kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nconfigMapGenerator: [{name: leak, literals: [leak=${SECRET}]}]\n`,
    },
    files: { 'app/kustomization.yaml': 'resources: [cm.yaml]\ncomponents: [REF]\n' },
    leaks: true,
  },
  {
    field: 'generators (file)',
    outside: cmGeneratorConfig,
    files: { 'app/kustomization.yaml': 'generators: [REF]\n' },
    leaks: true,
  },
  {
    field: 'transformers (file)',
    outside: labelTransformer,
    files: { 'app/kustomization.yaml': 'resources: [cm.yaml]\ntransformers: [REF]\n' },
    leaks: true,
  },
  {
    field: 'validators (file)',
    outside: labelTransformer,
    files: { 'app/kustomization.yaml': 'resources: [cm.yaml]\nvalidators: [REF]\n' },
    leaks: false,
  },
  {
    field: 'patches path',
    outside: smpPatch,
    files: { 'app/kustomization.yaml': 'resources: [cm.yaml]\npatches: [{path: REF}]\n' },
    leaks: true,
  },
  {
    field: 'patchesStrategicMerge',
    outside: smpPatch,
    files: { 'app/kustomization.yaml': 'resources: [cm.yaml]\npatchesStrategicMerge: [REF]\n' },
    leaks: true,
  },
  {
    field: 'patchesJson6902 path',
    outside: jsonPatch,
    files: {
      'app/kustomization.yaml':
        'resources: [cm.yaml]\npatchesJson6902: [{target: {version: v1, kind: ConfigMap, name: target}, path: REF}]\n',
    },
    leaks: true,
  },
  {
    field: 'configMapGenerator files',
    outside: SECRET,
    files: { 'app/kustomization.yaml': 'configMapGenerator: [{name: leak, files: [REF]}]\n' },
    leaks: true,
  },
  {
    field: 'configMapGenerator files (key=path)',
    outside: SECRET,
    files: { 'app/kustomization.yaml': 'configMapGenerator: [{name: leak, files: [key=REF]}]\n' },
    leaks: true,
  },
  {
    field: 'configMapGenerator envs',
    outside: `leak=${SECRET}\n`,
    files: { 'app/kustomization.yaml': 'configMapGenerator: [{name: leak, envs: [REF]}]\n' },
    leaks: true,
  },
  {
    field: 'secretGenerator files',
    outside: SECRET,
    files: { 'app/kustomization.yaml': 'secretGenerator: [{name: leak, files: [REF]}]\n' },
    leaks: true,
  },
  {
    field: 'secretGenerator envs',
    outside: `leak=${SECRET}\n`,
    files: { 'app/kustomization.yaml': 'secretGenerator: [{name: leak, envs: [REF]}]\n' },
    leaks: true,
  },
  {
    field: 'replacements path',
    outside: replacement,
    files: { 'app/kustomization.yaml': 'resources: [cm.yaml]\nreplacements: [{path: REF}]\n' },
    leaks: true,
  },
  {
    field: 'openapi path',
    outside: `{"definitions": {"${SECRET}": {"type": "object"}}}`,
    files: { 'app/kustomization.yaml': 'resources: [cm.yaml]\nopenapi: {path: REF}\n' },
    leaks: false,
  },
  {
    field: 'configurations',
    outside: `namePrefix: [{path: metadata/${SECRET}}]\n`,
    files: { 'app/kustomization.yaml': 'resources: [cm.yaml]\nconfigurations: [REF]\n' },
    leaks: false,
  },
  {
    field: 'crds',
    outside: `apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: ${SECRET}.example.com}\n`,
    files: { 'app/kustomization.yaml': 'resources: [cm.yaml]\ncrds: [REF]\n' },
    leaks: false,
  },
  // Through a generator, transformer or validator config inside the root, and the same inline.
  {
    field: 'ConfigMapGenerator files in a generators file',
    outside: SECRET,
    files: {
      'app/kustomization.yaml': 'generators: [gen.yaml]\n',
      'app/gen.yaml': 'apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata: {name: leak}\nfiles: [REF]\n',
    },
    leaks: true,
  },
  {
    field: 'SecretGenerator envs in a generators file',
    outside: `leak=${SECRET}\n`,
    files: {
      'app/kustomization.yaml': 'generators: [gen.yaml]\n',
      'app/gen.yaml': 'apiVersion: builtin\nkind: SecretGenerator\nmetadata: {name: leak}\nenvs: [REF]\n',
    },
    leaks: true,
  },
  {
    field: 'ConfigMapGenerator files inline in generators',
    outside: SECRET,
    files: {
      'app/kustomization.yaml': `generators:\n  - |-\n${indent('apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata: {name: leak}\nfiles: [REF]\n', '    ')}\n`,
    },
    leaks: true,
  },
  {
    field: 'PatchTransformer path in a transformers file',
    outside: smpPatch,
    files: {
      'app/kustomization.yaml': 'resources: [cm.yaml]\ntransformers: [tr.yaml]\n',
      'app/tr.yaml': 'apiVersion: builtin\nkind: PatchTransformer\nmetadata: {name: p}\npath: REF\n',
    },
    leaks: true,
  },
  {
    field: 'PatchStrategicMergeTransformer paths in a transformers file',
    outside: smpPatch,
    files: {
      'app/kustomization.yaml': 'resources: [cm.yaml]\ntransformers: [tr.yaml]\n',
      'app/tr.yaml':
        'apiVersion: builtin\nkind: PatchStrategicMergeTransformer\nmetadata: {name: p}\npaths: [REF]\n',
    },
    leaks: true,
  },
  {
    field: 'PatchJson6902Transformer path in a transformers file',
    outside: jsonPatch,
    files: {
      'app/kustomization.yaml': 'resources: [cm.yaml]\ntransformers: [tr.yaml]\n',
      'app/tr.yaml':
        'apiVersion: builtin\nkind: PatchJson6902Transformer\nmetadata: {name: p}\ntarget: {version: v1, kind: ConfigMap, name: target}\npath: REF\n',
    },
    leaks: true,
  },
  {
    field: 'ReplacementTransformer replacements path in a transformers file',
    outside: replacement,
    files: {
      'app/kustomization.yaml': 'resources: [cm.yaml]\ntransformers: [tr.yaml]\n',
      'app/tr.yaml':
        'apiVersion: builtin\nkind: ReplacementTransformer\nmetadata: {name: r}\nreplacements: [{path: REF}]\n',
    },
    leaks: true,
  },
  {
    field: 'PatchTransformer path inline in transformers',
    outside: smpPatch,
    files: {
      'app/kustomization.yaml': `resources: [cm.yaml]\ntransformers:\n  - |-\n${indent('apiVersion: builtin\nkind: PatchTransformer\nmetadata: {name: p}\npath: REF\n', '    ')}\n`,
    },
    leaks: true,
  },
  {
    field: 'PatchTransformer path in a validators file',
    outside: smpPatch,
    files: {
      'app/kustomization.yaml': 'resources: [cm.yaml]\nvalidators: [va.yaml]\n',
      'app/va.yaml': 'apiVersion: builtin\nkind: PatchTransformer\nmetadata: {name: p}\npath: REF\n',
    },
    leaks: false,
  },
];

type Via = 'absolute path' | "'../' path" | 'symlink inside the root';
const vias: Via[] = ['absolute path', "'../' path", 'symlink inside the root'];

/** Lays out `<case>/root/app/...` and `<case>/outside/thing`, returning the root and the reference to use. */
async function layout(c: Case, via: Via | 'inside'): Promise<{ root: string; ref: string }> {
  const base = await mkdtemp(path.join(scratch, 'case-'));
  const root = path.join(base, 'root');
  const thing = path.join(via === 'inside' ? path.join(root, 'app') : path.join(base, 'outside'), 'thing');
  if (typeof c.outside === 'string') await write(path.dirname(thing), { thing: c.outside });
  else await write(thing, c.outside);
  let ref: string;
  if (via === 'inside') ref = 'thing';
  else if (via === 'absolute path') ref = thing;
  else if (via === "'../' path") ref = '../../outside/thing';
  else {
    await mkdir(path.join(root, 'app'), { recursive: true });
    await symlink(thing, path.join(root, 'app', 'escape'));
    ref = 'escape';
  }
  const files = Object.fromEntries(
    Object.entries({ 'app/cm.yaml': target, ...c.files }).map(([k, v]) => [k, v.replaceAll('REF', ref)]),
  );
  await write(root, files);
  return { root, ref };
}

const outcome = (p: Promise<string>) =>
  p.then(
    (out) => ({ out, error: undefined }),
    (error: unknown) => ({ out: '', error: error as Error }),
  );

describe('kustomize builds are confined to the artifact root', () => {
  it.each(cases)('control: $field reads a file inside the root', async (c) => {
    const { root } = await layout(c, 'inside');
    const { out, error } = await outcome(kustomizeBuild(root, path.join(root, 'app')));
    expect(error?.message ?? '').not.toMatch(/outside the artifact root/);
    if (c.leaks) {
      expect(error).toBeUndefined();
      expect(out.includes(SECRET) || out.includes(SECRET_B64)).toBe(true);
    }
  });

  describe.each(vias)('by %s', (via) => {
    it.each(cases)('refuses $field outside the root, naming it, leaking nothing', async (c) => {
      const { root, ref } = await layout(c, via);
      const { out, error } = await outcome(kustomizeBuild(root, path.join(root, 'app')));
      expect(error).toBeInstanceOf(BuildError);
      // kustomize itself refuses an absolute component path before the file system is asked.
      expect(error!.message).toMatch(/outside the artifact root|new root '.*' cannot be absolute/);
      expect(error!.message).toContain(via === "'../' path" ? 'outside/thing' : ref);
      for (const text of [out, error!.message, (error as BuildError).file ?? '']) {
        expect(text).not.toContain(SECRET);
        expect(text).not.toContain(SECRET_B64);
      }
    });
  });

  it('refuses through renderKustomization too (the path the controller and kedge build take)', async () => {
    const { root } = await layout(
      cases.find((c) => c.field === 'configMapGenerator files')!,
      'symlink inside the root',
    );
    const error = await renderKustomization({ root, path: 'app' }).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(BuildError);
    expect((error as Error).message).toMatch(/app\/escape.*outside the artifact root/);
    expect((error as Error).message).not.toContain(SECRET);
  });
});

// The controller renders from one extracted tree shared by every Kustomization of a revision, writing its
// kustomization file into a private overlay dir beside spec.path: the same table must hold through it.
describe("shared-root renders (the controller's) are confined the same way", () => {
  it.each(cases)('control: $field reads a file inside the root', async (c) => {
    const { root } = await layout(c, 'inside');
    const { out, error } = await outcome(
      renderKustomization({ root, path: 'app', sharedRoot: true }).then((o) => JSON.stringify(o)),
    );
    expect(error?.message ?? '').not.toMatch(/outside the artifact root/);
    if (c.leaks) {
      expect(error).toBeUndefined();
      expect(out.includes(SECRET) || out.includes(SECRET_B64)).toBe(true);
    }
  });

  describe.each(vias)('by %s', (via) => {
    it.each(cases)('refuses $field outside the root, leaking nothing', async (c) => {
      const { root } = await layout(c, via);
      const { out, error } = await outcome(
        renderKustomization({ root, path: 'app', sharedRoot: true }).then((o) => JSON.stringify(o)),
      );
      expect(error).toBeInstanceOf(BuildError);
      expect(error!.message).toMatch(/outside the artifact root|new root '.*' cannot be absolute/);
      expect(error!.message).not.toContain('.kedge-overlay-');
      for (const text of [out, error!.message, (error as BuildError).file ?? '']) {
        expect(text).not.toContain(SECRET);
        expect(text).not.toContain(SECRET_B64);
      }
    });
  });
});

describe('kustomization files', () => {
  it('refuses a kustomization file that is a symlink out of the root, leaving its target untouched', async () => {
    const base = await mkdtemp(path.join(scratch, 'kfile-'));
    const outside = path.join(base, 'outside.yaml');
    const content = `resources: [cm.yaml]\n# ${SECRET}\n`;
    await writeFile(outside, content);
    await write(path.join(base, 'root'), { 'app/cm.yaml': target });
    await symlink(outside, path.join(base, 'root/app/kustomization.yaml'));
    const error = await renderKustomization({
      root: path.join(base, 'root'),
      path: 'app',
      overlay: { namePrefix: 'x-' },
    }).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(GenerateError);
    expect((error as Error).message).toBe(
      'app/kustomization.yaml is a symlink to a file outside the artifact root',
    );
    expect(await readFile(outside, 'utf8')).toBe(content);
  });
});

describe('kustomize builds run no code and reach no network', () => {
  const fnScript = (marker: string) => `#!/bin/sh\ntouch ${marker}\ncat\n`;

  it.each([
    ['exec KRM function in transformers', 'transformers'],
    ['exec KRM function in generators', 'generators'],
    ['exec KRM function in validators', 'validators'],
  ])('refuses an %s and never runs it', async (_name, field) => {
    const root = await mkdtemp(path.join(scratch, 'fn-'));
    const marker = path.join(root, '..', `${path.basename(root)}-ran`);
    await write(root, {
      'app/fn.sh': fnScript(marker),
      'app/cm.yaml': target,
      'app/kustomization.yaml': `resources: [cm.yaml]\n${field}: [fn.yaml]\n`,
      'app/fn.yaml': `apiVersion: example.com/v1\nkind: Fn\nmetadata:\n  name: f\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: ./fn.sh\n`,
    });
    await chmod(path.join(root, 'app/fn.sh'), 0o755);
    const error = await kustomizeBuild(root, path.join(root, 'app')).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(BuildError);
    expect((error as Error).message).toMatch(/external plugins disabled.*'Fn'/);
    await expect(access(marker)).rejects.toThrow();
  });

  it.each([
    [
      'a container KRM function',
      `apiVersion: example.com/v1\nkind: Fn\nmetadata:\n  name: f\n  annotations:\n    config.kubernetes.io/function: |\n      container:\n        image: busybox\n`,
      /external plugins disabled.*'Fn'/,
    ],
    [
      'a legacy exec or Go plugin',
      'apiVersion: someteam.example.com/v1\nkind: ChartInflator\nmetadata: {name: c}\n',
      /external plugins disabled.*'ChartInflator'/,
    ],
    [
      'a builtin HelmChartInflationGenerator',
      'apiVersion: builtin\nkind: HelmChartInflationGenerator\nmetadata: {name: h}\nname: chart\nchartHome: /\n',
      /helm/i,
    ],
  ])('refuses %s', async (_name, config, message) => {
    const root = await mkdtemp(path.join(scratch, 'plugin-'));
    await write(root, { 'app/kustomization.yaml': 'generators: [plugin.yaml]\n', 'app/plugin.yaml': config });
    const error = await kustomizeBuild(root, path.join(root, 'app')).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(BuildError);
    expect((error as Error).message).toMatch(message);
  });

  it('refuses helmCharts', async () => {
    const root = await mkdtemp(path.join(scratch, 'helm-'));
    await write(root, {
      'app/kustomization.yaml':
        'helmCharts:\n  - name: chart\n    repo: https://charts.example.com\n    version: 1.0.0\nhelmGlobals: {chartHome: /}\n',
    });
    const error = await kustomizeBuild(root, path.join(root, 'app')).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(BuildError);
    expect((error as Error).message).toMatch(/helm/i);
  });

  describe('remote resources', () => {
    let server: Server;
    let requests = 0;
    let base: string;
    beforeAll(async () => {
      server = createServer((_req, res) => {
        requests++;
        res.end(leakingConfigMap);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it.each([
      ['a remote resource file', (b: string) => `resources:\n  - ${b}/leak.yaml\n`],
      [
        'a remote base (git over HTTP)',
        (b: string) => `resources:\n  - ${b}/org/repo.git//deploy?ref=main\n`,
      ],
      [
        'a remote configMapGenerator file',
        (b: string) => `configMapGenerator:\n  - name: leak\n    files:\n      - ${b}/leak.yaml\n`,
      ],
    ])('refuses %s without any request leaving the build', async (_name, kustomization) => {
      const root = await mkdtemp(path.join(scratch, 'remote-'));
      await write(root, { 'app/kustomization.yaml': kustomization(base) });
      const error = await kustomizeBuild(root, path.join(root, 'app')).catch((e: unknown) => e as Error);
      expect(error).toBeInstanceOf(BuildError);
      expect((error as Error).message).toMatch(/refused/);
      expect((error as Error).message).not.toContain(SECRET);
      expect(requests).toBe(0);
    });
  });
});

describe('references inside the artifact still build', () => {
  it("follows '../sibling' directories, files and symlinks that stay inside the artifact", async () => {
    const root = await mkdtemp(path.join(scratch, 'inside-'));
    await write(root, {
      'base/kustomization.yaml': 'resources: [cm.yaml]\n',
      'base/cm.yaml': target,
      'shared/patch.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: target}\ndata: {patched: "yes"}\n',
      'shared/greeting.txt': 'hello',
      'shared/extra.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n',
      'envs/prod/kustomization.yaml':
        'resources: [../../base, linked.yaml]\npatches: [{path: ../../shared/patch.yaml}]\nconfigMapGenerator: [{name: files, files: [../../shared/greeting.txt]}]\n',
    });
    await symlink(path.join(root, 'shared/extra.yaml'), path.join(root, 'envs/prod/linked.yaml'));
    const out = await kustomizeBuild(root, path.join(root, 'envs/prod'));
    expect(out).toContain('patched: "yes"');
    expect(out).toContain('greeting.txt: hello');
    expect(out).toContain('name: extra');
  });
});
