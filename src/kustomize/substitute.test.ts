import { describe, expect, it } from 'vitest';
import { envsubst } from './envsubst.ts';
import { mergeVariables, substituteDocument, SubstitutionError, validateVariableNames } from './substitute.ts';

const lookup = (vars: Record<string, string>) => (name: string) => (Object.hasOwn(vars, name) ? vars[name] : undefined);

describe('envsubst', () => {
  it.each([
    ['plain variable', '${a}', { a: 'x' }, 'x'],
    ['unset is empty', 'v=${a}.', {}, 'v=.'],
    ['text only', 'abc $a', { a: 'x' }, 'abc $a'],
    [':= default used when unset', '${a:=dflt}', {}, 'dflt'],
    [':= default used when empty', '${a:=dflt}', { a: '' }, 'dflt'],
    [':= default not used', '${a:=dflt}', { a: 'x' }, 'x'],
    [':- default', '${a:-dflt}', {}, 'dflt'],
    ['= default', '${a=dflt}', {}, 'dflt'],
    ['nested default', '${a:=${b}-suffix}', { b: 'B' }, 'B-suffix'],
    ['$${} escapes', '$${a}', { a: 'x' }, '${a}'],
    ['$$ escapes a dollar', 'cost $$5', {}, 'cost $5'],
    ['mixed escapes', 'x ${a}$${b$${a}$a${a}', { a: 'A' }, 'x A${b${a}$aA'],
    ['length', '${#a}', { a: 'abcd' }, '4'],
    ['upper', '${a^^}', { a: 'ab' }, 'AB'],
    ['upper first', '${a^}', { a: 'ab' }, 'Ab'],
    ['lower', '${a,,}', { a: 'AB' }, 'ab'],
    ['lower first', '${a,}', { a: 'AB' }, 'aB'],
    ['substring', '${p:11}', { p: '/home/bozo/ideas/x' }, 'ideas/x'],
    ['substring with length', '${p:11:5}', { p: '/home/bozo/ideas/x' }, 'ideas'],
    ['replace first', '${s/abc/X}', { s: 'abcabc' }, 'Xabc'],
    ['replace all', '${s//abc/X}', { s: 'abcabc' }, 'XX'],
    ['replace prefix', '${s/#abc/X}', { s: 'abcabc' }, 'Xabc'],
    ['replace suffix', '${s/%abc/X}', { s: 'abcabc' }, 'abcX'],
    ['replace with escaped slash', '${s/\\//-}', { s: 'a/b' }, 'a-b'],
    ['replace with nothing', '${s/./}', { s: 'a.b' }, 'ab'],
    ['trim shortest prefix', '${f#*.}', { f: 'a.b.txt' }, 'b.txt'],
    ['trim longest prefix', '${f##*.}', { f: 'a.b.txt' }, 'txt'],
    ['trim shortest suffix', '${f%.*}', { f: 'a.b.txt' }, 'a.b'],
    ['trim longest suffix', '${f%%.*}', { f: 'a.b.txt' }, 'a'],
  ])('%s', (_name, input, vars, expected) => {
    expect(envsubst(input, lookup(vars))).toBe(expected);
  });

  it.each([
    ['unclosed', '${a'],
    ['bad name', '${}'],
    ['dash default is not Flux syntax', '${a-b}'],
  ])('rejects %s', (_name, input) => {
    expect(() => envsubst(input, lookup({ a: 'x' }))).toThrow(/variable substitution failed/);
  });

  it.each([
    ['missing plain variable fails', '${a}', {}, /variable not set \(strict mode\): "a"/],
    ['missing with transform fails', '${a^^}', {}, /strict mode/],
    ['default satisfies strict', '${a:=d}', {}, 'd'],
    ['empty value is set', '[${a}]', { a: '' }, '[]'],
  ])('strict: %s', (_name, input, vars, expected) => {
    const run = () => envsubst(input, lookup(vars), { strict: true });
    if (expected instanceof RegExp) expect(run).toThrow(expected);
    else expect(run()).toBe(expected);
  });
});

describe('mergeVariables', () => {
  it('applies substituteFrom in order, then substitute over all, stripping newlines', () => {
    const vars = mergeVariables({
      substituteFrom: [
        { a: 'first', b: 'first' },
        { b: 'second', c: 'second\n' },
      ],
      substitute: { c: 'inline', d: 'inline' },
    });
    expect(vars).toEqual({ a: 'first', b: 'second', c: 'inline', d: 'inline' });
  });
});

describe('validateVariableNames', () => {
  it.each([['_ok'], ['ok_1'], ['A']])('accepts %s', (name) => {
    expect(() => validateVariableNames({ [name]: 'v' })).not.toThrow();
  });
  it.each([['1abc'], ['a-b'], ['a.b'], ['é']])('rejects %s naming it', (name) => {
    expect(() => validateVariableNames({ [name]: 'v' })).toThrow(new RegExp(`'${name.replace('.', '\\.')}' var name is invalid`));
  });
});

describe('substituteDocument', () => {
  const doc = (meta: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n${meta}data:\n  region: \${region}\n  count: \${n}\n`;

  it.each([
    ['substitutes', '', { region: 'eu', n: '3' }, { region: 'eu', count: 3 }],
    ['skips when labelled disabled', '  labels:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\n', { region: 'eu' }, { region: '${region}', count: '${n}' }],
    ['skips when annotated disabled', '  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\n', { region: 'eu' }, { region: '${region}', count: '${n}' }],
    ['skips entirely with no variables', '', {}, { region: '${region}', count: '${n}' }],
  ])('%s', (_name, meta, vars, data) => {
    expect(substituteDocument(doc(meta), vars, { where: 'ConfigMap/cm' }).data).toEqual(data);
  });

  it('names the object when strict substitution fails', () => {
    expect(() => substituteDocument(doc(''), { region: 'eu' }, { strict: true, where: 'ConfigMap/cm' })).toThrow(
      SubstitutionError,
    );
    expect(() => substituteDocument(doc(''), { region: 'eu' }, { strict: true, where: 'ConfigMap/cm' })).toThrow(
      /post build failed for 'ConfigMap\/cm': variable not set \(strict mode\): "n"/,
    );
  });

  it('reports YAML broken by a substituted value', () => {
    expect(() => substituteDocument(doc(''), { region: '[', n: '1' }, { where: 'ConfigMap/cm' })).toThrow(/does not parse/);
  });
});
