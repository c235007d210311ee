import { describe, expect, it } from 'vitest';
import { CelCompileError, CelEvaluationError, compileCel } from './cel-expression.ts';
import { FluxCel } from './flux-expressions.ts';

/** An object as the API server returns it (JSON: integers are plain numbers). */
const sealedSecret = {
  apiVersion: 'bitnami.com/v1alpha1',
  kind: 'SealedSecret',
  metadata: { name: 'db', generation: 2, uid: '0c9c2e41-aaaa-bbbb', labels: { 'app/version': 'v1.2.3' } },
  spec: { encryptedData: { password: 'AgB' } },
  status: {
    observedGeneration: 2,
    readyReplicas: 3,
    ratio: 0.5,
    lastUpdate: '2024-01-01T00:00:00Z',
    ceph: { health: 'HEALTH_OK' },
    conditions: [
      { type: 'Synced', status: 'True', observedGeneration: 2 },
      { type: 'Ready', status: 'False', reason: 'ReconcileError' },
    ],
  },
};

describe('CEL as Flux evaluates it (health checks: the object’s top-level fields are the variables)', () => {
  it.each([
    // Flux's documentation and its CEL health check library.
    [`status.conditions.filter(e, e.type == 'Synced').all(e, e.status == 'True')`, true],
    [
      `status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'True' && e.observedGeneration == metadata.generation)`,
      false,
    ],
    [`status.conditions.exists(e, e.type == 'Stalled' && e.status == 'True')`, false],
    [`status.ceph.health == 'HEALTH_OK'`, true],
    [`has(status.attribute) && status.attribute.ready`, false],
    [`status.?conditions.orValue([]).exists(e, e.type == 'Synced')`, true],
    [`status.?missing.orValue([]).exists(e, e.type == 'Synced')`, false],
    [`metadata.labels['app/version'] == 'v1.2.3'`, true],
    // Integers are ints, as in Kubernetes' unstructured objects; cross-type comparisons work.
    [`status.readyReplicas + 1 == 4`, true],
    [`status.readyReplicas > 2.5 && status.ratio < 1`, true],
    [`status.observedGeneration == metadata.generation`, true],
    // Macros, strings, lists, timestamps and durations.
    [`status.conditions.map(c, c.type) == ['Synced', 'Ready']`, true],
    [`status.conditions.exists_one(c, c.type == 'Ready')`, true],
    [`size(status.conditions) == 2 && status.conditions.size() == 2`, true],
    [`metadata.uid.split('-').first().value() == '0c9c2e41'`, true],
    [`metadata.uid.split('-').last().value() == 'bbbb'`, true],
    [`metadata.name.upperAscii() + metadata.name.lowerAscii() == 'DBdb'`, true],
    [`metadata.uid.replace('-', '_', 1) == '0c9c2e41_aaaa-bbbb'`, true],
    [
      `'%s has %d replicas (%.1f)'.format([metadata.name, status.readyReplicas, status.ratio]) == 'db has 3 replicas (0.5)'`,
      true,
    ],
    [`strings.quote('a"b') == '"a\\\\"b"'`, true],
    [`metadata.name.charAt(1) == 'b' && 'abc'.reverse() == 'cba' && metadata.name.matches('^d')`, true],
    [`['a', 'b'].join('/') == 'a/b'`, true],
    [`timestamp(status.lastUpdate) < timestamp('2025-01-01T00:00:00Z')`, true],
    [`timestamp(status.lastUpdate) + duration('1h') > timestamp(status.lastUpdate)`, true],
    [`duration('5m') > duration('90s')`, true],
    [
      `sets.contains([1, 2, 3], [2, 3]) && !sets.intersects([1], [2]) && sets.equivalent([1, 2], [2, 1])`,
      true,
    ],
    [`base64.encode(b'hi') == 'aGk=' && base64.decode('aGk=') == b'hi'`, true],
    [`cel.bind(r, status.readyReplicas, r * r == 9)`, true],
  ])('%s → %s', (source, expected) => {
    expect(compileCel(source, FluxCel.healthCheck).evaluateBoolean(sealedSecret)).toBe(expected);
  });

  it('reports a field the object does not have, with the expression and where', () => {
    const run = () => compileCel('status.missing.ready', FluxCel.healthCheck).evaluateBoolean(sealedSecret);
    expect(run).toThrow(CelEvaluationError);
    expect(run).toThrow(
      "failed to evaluate the CEL expression 'status.missing.ready': No such key: missing at line 1, column 8",
    );
  });

  it('refuses a result that is not a boolean', () => {
    expect(() => compileCel('metadata.name', FluxCel.healthCheck).evaluateBoolean(sealedSecret)).toThrow(
      'it returned a string, not a boolean',
    );
  });
});

describe('compiling', () => {
  it.each([
    [
      'a syntax error',
      'status.conditions.all(e, e.status ==',
      FluxCel.healthCheck,
      "invalid CEL expression 'status.conditions.all(e, e.status ==': Unexpected token: EOF at line 1, column 37",
    ],
    [
      'an unterminated string',
      "status.phase == 'Ready",
      FluxCel.healthCheck,
      "invalid CEL expression 'status.phase == 'Ready': Unterminated string at line 1, column 17",
    ],
    [
      'a position on a later line',
      "dep.metadata.name == 'a' &&\n  dep.status ==",
      FluxCel.readyExpr,
      'at line 2, column 16',
    ],
    [
      'an undeclared variable',
      "res.metadata.name == 'a' && request.x",
      FluxCel.resourceFilter,
      'Unknown variable: request at line 1, column 29',
    ],
    [
      'a type error',
      "self.metadata.name == 'a' && 1 + 'b' == 2",
      FluxCel.readyExpr,
      'no such overload: int + string',
    ],
    [
      'a filter that returns a string',
      "res.metadata.name + '-x'",
      FluxCel.resourceFilter,
      'it must return bool, not string',
    ],
    [
      'a commit status that returns a bool',
      "event.reason == 'x'",
      FluxCel.commitStatus,
      'it must return string, not bool',
    ],
  ])('refuses %s with the expression and position', (_name, source, options, message) => {
    expect(() => compileCel(source, options)).toThrow(CelCompileError);
    expect(() => compileCel(source, options)).toThrow(message);
  });

  it.each([
    [
      "dep.metadata.labels['app/version'] == self.metadata.labels['app/version'] && dep.status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'True') && dep.metadata.generation == dep.status.observedGeneration",
      FluxCel.readyExpr,
    ],
    ["res.metadata.name == 'app' && req.ref == 'refs/heads/main'", FluxCel.resourceFilter],
    [
      "(event.involvedObject.kind + '/' + event.involvedObject.name + '/' + event.metadata.env + '/' + provider.metadata.uid.split('-').first().value()).lowerAscii()",
      FluxCel.commitStatus,
    ],
    ['event.involvedObject.name', FluxCel.commitStatus],
  ])('accepts Flux’s documented form %s', (source, options) => {
    expect(() => compileCel(source, options)).not.toThrow();
  });

  it('compiles an expression once and reuses it', () => {
    expect(compileCel('status.ready == true', FluxCel.healthCheck)).toBe(
      compileCel('status.ready == true', FluxCel.healthCheck),
    );
  });

  it('evaluates a commit status key from event, alert and provider', () => {
    const key = compileCel(
      "(event.involvedObject.kind + '/' + event.involvedObject.name + '/' + event.metadata.env + '/' + provider.metadata.uid.split('-').first().value()).lowerAscii()",
      FluxCel.commitStatus,
    ).evaluateString({
      event: { involvedObject: { kind: 'Kustomization', name: 'Apps' }, metadata: { env: 'Prod' } },
      alert: {},
      provider: sealedSecret,
    });
    expect(key).toBe('kustomization/apps/prod/0c9c2e41');
  });
});
