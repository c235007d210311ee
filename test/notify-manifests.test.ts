import { describe, expect, it } from 'vitest';
import { parseManifests } from '../src/api/manifest.ts';

const doc = (apiVersion: string, kind: string, spec: string) =>
  `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: x\n  namespace: flux-system\nspec:\n${spec}`;

describe('notification manifests', () => {
  it('reads Flux Provider, Alert and Receiver manifests unchanged', () => {
    const objects = parseManifests(
      [
        doc('notification.toolkit.fluxcd.io/v1beta3', 'Provider', '  type: slack\n  channel: general\n  address: https://hooks.slack.com/services/x\n  secretRef:\n    name: slack-url\n'),
        doc('notification.toolkit.fluxcd.io/v1beta3', 'Alert', '  providerRef:\n    name: slack\n  eventSeverity: info\n  eventSources:\n    - kind: GitRepository\n      name: "*"\n  exclusionList:\n    - ".*upgrade.*"\n'),
        doc('notification.toolkit.fluxcd.io/v1beta3', 'Provider', '  type: nats\n  channel: flux.events\n  address: nats://nats.messaging:4222\n  secretRef:\n    name: nats-creds\n'),
        doc('notification.toolkit.fluxcd.io/v1beta3', 'Provider', '  type: otel\n  address: http://otel-collector:4318/v1/traces\n'),
        doc('notification.toolkit.fluxcd.io/v1', 'Receiver', '  type: github\n  events: ["ping", "push"]\n  secretRef:\n    name: webhook-token\n  resources:\n    - kind: GitRepository\n      name: webapp\n'),
      ].join('---\n'),
      'flux.yaml',
    );
    expect(objects.map((o) => o.kind)).toEqual(['Provider', 'Alert', 'Provider', 'Provider', 'Receiver']);
  });

  it.each([
    ['Provider', 'notification.toolkit.fluxcd.io/v1beta3', '  type: azureeventhub\n  channel: x\n', 'Azure Event Hubs'],
    ['Provider', 'notification.toolkit.fluxcd.io/v1beta3', '  type: googlepubsub\n  channel: x\n', 'cloud identity'],
    ['Alert', 'notification.toolkit.fluxcd.io/v1beta3', '  providerRef:\n    name: p\n  eventSources:\n    - kind: GitRepository\n      name: a\n  inclusionList: ["("]\n', 'valid regular expression'],
  ])('rejects an unsupported %s with a clear message', (kind, apiVersion, spec, message) => {
    expect(() => parseManifests(doc(apiVersion, kind, spec), 'bad.yaml')).toThrow(message);
  });
});
