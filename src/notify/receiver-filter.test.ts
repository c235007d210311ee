import { describe, expect, it } from 'vitest';
import type { KObject } from '../api/meta.ts';
import type { Receiver } from '../api/receiver.ts';
import { ReceiverBodyError, receiverResourceFilters } from './receiver-filter.ts';

const receiver = (spec: Partial<NonNullable<Receiver['spec']>>): Receiver => ({
  apiVersion: 'notification.toolkit.fluxcd.io/v1',
  kind: 'Receiver',
  metadata: { name: 'r', namespace: 'default' },
  spec: {
    type: 'generic',
    secretRef: { name: 's' },
    resources: [{ kind: 'GitRepository', name: '*' }],
    ...spec,
  },
});

const repo: KObject = {
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  kind: 'GitRepository',
  metadata: { name: 'app', namespace: 'default', labels: { team: 'web' } },
  spec: { url: 'https://example.com/secret-path' },
};

const request = (contentType: string, body: string) => ({
  headers: { 'content-type': contentType },
  body: Buffer.from(body),
});

describe('receiverResourceFilters', () => {
  it.each([
    [
      'the JSON body as req',
      'req.team == res.metadata.labels.team',
      request('application/json', '{"team":"web"}'),
      true,
    ],
    [
      'a JSON content type with parameters',
      "req.team == 'web'",
      request('application/json; charset=utf-8', '{"team":"web"}'),
      true,
    ],
    [
      'an empty req for other content types',
      'size(req) == 0',
      request('application/x-www-form-urlencoded', 'team=web'),
      true,
    ],
    ['an empty req without a request', 'size(req) == 0', undefined, true],
    [
      'res with the resource metadata only, not its spec',
      "res.kind == 'GitRepository' && res.metadata.name == 'app' && !has(res.spec)",
      undefined,
      true,
    ],
    ['a false filter', "res.metadata.name == 'other'", undefined, false],
  ])('reads %s', (_name, resourceFilter, req, accepted) => {
    const [filter] = receiverResourceFilters(receiver({ resourceFilter }), req);
    expect(filter!(repo)).toBe(accepted);
  });

  it('stacks resourceFilter and a resource’s own filter', () => {
    const filters = receiverResourceFilters(
      receiver({
        resourceFilter: "res.metadata.labels.team == 'web'",
        resources: [
          { kind: 'GitRepository', name: '*', filter: "res.metadata.name == 'app'" },
          { kind: 'GitRepository', name: '*', filter: "res.metadata.name == 'docs'" },
          { kind: 'GitRepository', name: '*' },
        ],
      }),
      undefined,
    );
    expect(filters.map((f) => f(repo))).toEqual([true, false, true]);
  });

  it('refuses a JSON body that does not parse only when an expression needs it', () => {
    const bad = request('application/json', '{not json');
    expect(() => receiverResourceFilters(receiver({ resourceFilter: 'true' }), bad)).toThrow(
      ReceiverBodyError,
    );
    expect(receiverResourceFilters(receiver({}), bad)[0]!(repo)).toBe(true);
  });
});
