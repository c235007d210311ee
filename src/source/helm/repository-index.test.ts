import { describe, expect, it } from 'vitest';
import { ChartReferenceError, IndexError, loadIndex, selectChartVersion } from './repository-index.ts';

const index = `apiVersion: v1
entries:
  demo:
    - {name: demo, version: 1.0.0, urls: [demo-1.0.0.tgz], created: "2024-01-01T00:00:00Z"}
    - {name: demo, version: 2.0.0-rc.1, urls: [demo-2.0.0-rc.1.tgz]}
    - {name: demo, version: 1.1.0, urls: [demo-1.1.0.tgz]}
    - {name: demo, version: not-semver, urls: [bad.tgz]}
  empty: []
`;

describe('loadIndex', () => {
  it('drops invalid versions and sorts the rest newest first', () => {
    expect(loadIndex(index).entries['demo']?.map((v) => v.version)).toEqual(['2.0.0-rc.1', '1.1.0', '1.0.0']);
  });

  it.each([
    ['', 'empty index.yaml file'],
    ['entries: {}\n', 'no API version specified in index.yaml'],
    ['apiVersion: v1\nentries: [1]\n', "'entries' is not a mapping"],
    ['apiVersion: v1\nentries:\n  demo: {}\n', "entry 'demo' is not a list"],
    ['apiVersion: [\n', 'not valid YAML'],
  ])('refuses %j: %s', (text, message) => {
    expect(() => loadIndex(text)).toThrow(IndexError);
    expect(() => loadIndex(text)).toThrow(message);
  });
});

describe('selectChartVersion', () => {
  const loaded = loadIndex(index);
  it.each([
    [undefined, '1.1.0'],
    ['*', '1.1.0'],
    ['1.0.0', '1.0.0'],
    ['~1.0', '1.0.0'],
    ['>=2.0.0-0', '2.0.0-rc.1'],
  ])('version %s selects %s', (range, version) => {
    expect(selectChartVersion(loaded, 'demo', range).version).toBe(version);
  });

  it.each([
    ['demo', '>=3', "no 'demo' chart with version matching '>=3' found (latest: 2.0.0-rc.1)"],
    ['nope', '*', "'nope' is not in the repository index"],
    ['empty', '*', "no chart version found for 'empty'"],
  ])('chart %s version %s: %s', (name, range, message) => {
    expect(() => selectChartVersion(loaded, name, range)).toThrow(ChartReferenceError);
    expect(() => selectChartVersion(loaded, name, range)).toThrow(message);
  });
});
