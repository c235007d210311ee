import { Environment, Optional } from '@marcbachmann/cel-js';
import { celEquals, formatString, quoteString } from './cel-extensions.ts';

/**
 * The CEL environments Kedge evaluates Flux's expressions in, with the libraries fluxcd/pkg `runtime/cel`
 * enables on cel-go: standard macros and functions, optional types (`.?field`, `[?key]`, `optional.*`,
 * `orValue`, list `first()`/`last()`), `cel.bind`, the strings extension, sets and base64 encoders, UTC
 * timestamps and homogeneous list/map literals.
 *
 * Creating an environment is costly; each variable set gets one, shared by every expression compiled in it.
 */

class SetsNamespace {}
class Base64Namespace {}
class StringsNamespace {}

type List = readonly unknown[];

function withFluxExtensions(env: Environment): Environment {
  return (
    env
      // cel-go ext.Strings beyond what the library ships (charAt, indexOf, join, lowerAscii, split, … are built in).
      .registerFunction('string.charAt(int): string', (s: string, i: bigint) => {
        if (i < 0n || i > BigInt(s.length)) throw new Error(`index out of range: ${i}`);
        return [...s][Number(i)] ?? '';
      })
      .registerFunction('string.replace(string, string): string', (s: string, from: string, to: string) =>
        s.replaceAll(from, to),
      )
      .registerFunction(
        'string.replace(string, string, int): string',
        (s: string, from: string, to: string, n: bigint) => {
          if (n < 0n) return s.replaceAll(from, to);
          let out = s;
          let at = 0;
          for (let i = 0n; i < n; i++) {
            const found = out.indexOf(from, at);
            if (found < 0) break;
            out = out.slice(0, found) + to + out.slice(found + from.length);
            at = found + to.length;
          }
          return out;
        },
      )
      .registerFunction('string.reverse(): string', (s: string) => [...s].reverse().join(''))
      .registerFunction('string.format(list): string', (s: string, args: List) => formatString(s, args))
      .registerType('StringsNamespace', StringsNamespace)
      .registerConstant('strings', 'StringsNamespace', new StringsNamespace())
      .registerFunction('StringsNamespace.quote(string): string', (_: unknown, s: string) => quoteString(s))
      // Optional types, version 2: first and last element of a list.
      .registerFunction('list.first(): optional<dyn>', (l: List) =>
        l.length > 0 ? Optional.of(l[0]) : Optional.none(),
      )
      .registerFunction('list.last(): optional<dyn>', (l: List) =>
        l.length > 0 ? Optional.of(l[l.length - 1]) : Optional.none(),
      )
      // cel-go ext.Sets.
      .registerType('SetsNamespace', SetsNamespace)
      .registerConstant('sets', 'SetsNamespace', new SetsNamespace())
      .registerFunction('SetsNamespace.contains(list, list): bool', (_: unknown, a: List, b: List) =>
        b.every((x) => a.some((y) => celEquals(x, y))),
      )
      .registerFunction(
        'SetsNamespace.equivalent(list, list): bool',
        (_: unknown, a: List, b: List) =>
          b.every((x) => a.some((y) => celEquals(x, y))) && a.every((x) => b.some((y) => celEquals(x, y))),
      )
      .registerFunction('SetsNamespace.intersects(list, list): bool', (_: unknown, a: List, b: List) =>
        a.some((x) => b.some((y) => celEquals(x, y))),
      )
      // cel-go ext.Encoders.
      .registerType('Base64Namespace', Base64Namespace)
      .registerConstant('base64', 'Base64Namespace', new Base64Namespace())
      .registerFunction('Base64Namespace.encode(bytes): string', (_: unknown, b: Uint8Array) =>
        Buffer.from(b).toString('base64'),
      )
      .registerFunction('Base64Namespace.decode(string): bytes', (_: unknown, s: string) => {
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new Error('illegal base64 data');
        return new Uint8Array(Buffer.from(s, 'base64'));
      })
  );
}

const environments = new Map<string, Environment>();

/**
 * The environment declaring `variables` (each a map, as Flux declares them: `google.protobuf.Struct`), or,
 * with `undefined`, the one where any name is a variable (health checks: the object's top-level fields).
 */
export function celEnvironment(variables: readonly string[] | undefined): Environment {
  const key = variables === undefined ? '*' : variables.join(',');
  let env = environments.get(key);
  if (!env) {
    env = withFluxExtensions(
      new Environment({
        unlistedVariablesAreDyn: variables === undefined,
        enableOptionalTypes: true,
        homogeneousAggregateLiterals: true,
      }),
    );
    for (const name of variables ?? []) env.registerVariable(name, 'map');
    environments.set(key, env);
  }
  return env;
}
