import { describe, expect, it } from 'vitest';
import type { Alert, AlertSpec } from '../api/alert.ts';
import { alertMatches, eventForAlert } from './alert-match.ts';
import type { FluxEvent } from './flux-event.ts';

const event = (over: Partial<FluxEvent> = {}): FluxEvent => ({
  involvedObject: { kind: 'GitRepository', namespace: 'apps', name: 'podinfo', apiVersion: 'source.toolkit.fluxcd.io/v1' },
  severity: 'info',
  timestamp: '2026-01-01T00:00:00Z',
  message: "stored artifact for commit 'bump'",
  reason: 'NewArtifact',
  reportingController: 'source-controller',
  ...over,
});
const alert = (spec: Partial<AlertSpec>): Alert => ({
  apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
  kind: 'Alert',
  metadata: { name: 'a', namespace: 'apps' },
  spec: { providerRef: { name: 'p' }, eventSources: [{ kind: 'GitRepository', name: '*' }], ...spec },
});

describe('alertMatches', () => {
  it.each([
    { name: 'any object of the kind', spec: {}, ev: event(), expected: true },
    { name: 'other kind', spec: { eventSources: [{ kind: 'Kustomization' as const, name: '*' }] }, ev: event(), expected: false },
    { name: 'by name', spec: { eventSources: [{ kind: 'GitRepository' as const, name: 'other' }] }, ev: event(), expected: false },
    { name: 'other namespace', spec: { eventSources: [{ kind: 'GitRepository' as const, name: '*', namespace: 'x' }] }, ev: event(), expected: false },
    { name: 'error severity drops info', spec: { eventSeverity: 'error' as const }, ev: event(), expected: false },
    { name: 'error severity keeps errors', spec: { eventSeverity: 'error' as const }, ev: event({ severity: 'error' }), expected: true },
    { name: 'inclusion miss', spec: { inclusionList: ['^failed'] }, ev: event(), expected: false },
    { name: 'inclusion hit', spec: { inclusionList: ['^stored'] }, ev: event(), expected: true },
    { name: 'exclusion wins', spec: { inclusionList: ['.*'], exclusionList: ['bump'] }, ev: event(), expected: false },
    { name: 'suspended', spec: { suspend: true }, ev: event(), expected: false },
    {
      name: 'matchLabels miss',
      spec: { eventSources: [{ kind: 'GitRepository' as const, name: '*', matchLabels: { team: 'a' } }] },
      ev: event(),
      expected: false,
    },
  ])('$name', ({ spec, ev, expected }) => {
    expect(alertMatches(alert(spec), ev, { team: 'b' })).toBe(expected);
  });

  it('adds eventMetadata and summary without overriding the event', () => {
    const e = eventForAlert(alert({ eventMetadata: { env: 'prod', reason: 'x' }, summary: 'cluster one' }), event({ metadata: { reason: 'kept' } }));
    expect(e.metadata).toEqual({ env: 'prod', reason: 'kept', summary: 'cluster one' });
  });
});
