import { describe, expect, it } from 'vitest';
import { computeStatus } from './kstatus.ts';

const c = (type: string, status: string, reason = '') => ({ type, status, reason, message: '' });

describe('computeStatus (kstatus rules)', () => {
  it.each([
    ['missing object', undefined, 'NotFound'],
    ['object being deleted', { kind: 'ConfigMap', metadata: { deletionTimestamp: '2024-01-01T00:00:00Z' } }, 'Terminating'],
    ['ConfigMap without status', { kind: 'ConfigMap', metadata: {} }, 'Current'],
    ['Kustomization not yet observed', { kind: 'Kustomization', metadata: { generation: 2 }, status: { observedGeneration: 1, conditions: [c('Ready', 'True')] } }, 'InProgress'],
    ['Kustomization Ready', { kind: 'Kustomization', metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [c('Ready', 'True')] } }, 'Current'],
    ['App Ready=False', { kind: 'App', metadata: { generation: 1 }, status: { observedGeneration: 1, conditions: [c('Ready', 'False')] } }, 'InProgress'],
    ['App Stalled', { kind: 'App', metadata: { generation: 1 }, status: { observedGeneration: 1, conditions: [c('Stalled', 'True', 'InvalidSpec')] } }, 'Failed'],
    ['App Reconciling', { kind: 'App', metadata: { generation: 1 }, status: { observedGeneration: 1, conditions: [c('Reconciling', 'True')] } }, 'InProgress'],
    ['StatefulSet ready', { kind: 'StatefulSet', metadata: { generation: 1 }, spec: { replicas: 2 }, status: { observedGeneration: 1, replicas: 2, readyReplicas: 2, currentReplicas: 2 } }, 'Current'],
    ['StatefulSet not ready', { kind: 'StatefulSet', metadata: { generation: 1 }, spec: { replicas: 2 }, status: { observedGeneration: 1, replicas: 2, readyReplicas: 1 } }, 'InProgress'],
    ['DaemonSet rolled out', { kind: 'DaemonSet', metadata: { generation: 1 }, status: { observedGeneration: 1, desiredNumberScheduled: 3, currentNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3, numberReady: 3 } }, 'Current'],
    ['DaemonSet updating', { kind: 'DaemonSet', metadata: { generation: 1 }, status: { observedGeneration: 1, desiredNumberScheduled: 3, currentNumberScheduled: 3, updatedNumberScheduled: 1 } }, 'InProgress'],
    ['ReplicaSet available', { kind: 'ReplicaSet', spec: { replicas: 1 }, status: { replicas: 1, availableReplicas: 1, readyReplicas: 1 } }, 'Current'],
    ['Pod running and ready', { kind: 'Pod', status: { phase: 'Running', conditions: [c('Ready', 'True')] } }, 'Current'],
    ['Pod crash-looping', { kind: 'Pod', status: { phase: 'Running', containerStatuses: [{ state: { waiting: { reason: 'CrashLoopBackOff' } } }] } }, 'Failed'],
    ['Pod failed', { kind: 'Pod', status: { phase: 'Failed' } }, 'Failed'],
    ['ClusterIP Service', { kind: 'Service', spec: { type: 'ClusterIP' } }, 'Current'],
    ['LoadBalancer without ingress', { kind: 'Service', spec: { type: 'LoadBalancer' }, status: { loadBalancer: {} } }, 'InProgress'],
    ['LoadBalancer with ingress', { kind: 'Service', spec: { type: 'LoadBalancer' }, status: { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } } }, 'Current'],
    ['PVC pending', { kind: 'PersistentVolumeClaim', status: { phase: 'Pending' } }, 'InProgress'],
    ['PVC bound', { kind: 'PersistentVolumeClaim', status: { phase: 'Bound' } }, 'Current'],
    ['CRD established', { kind: 'CustomResourceDefinition', status: { conditions: [c('Established', 'True')] } }, 'Current'],
    ['CRD names rejected', { kind: 'CustomResourceDefinition', status: { conditions: [c('NamesAccepted', 'False')] } }, 'Failed'],
    ['Namespace active', { kind: 'Namespace', status: { phase: 'Active' } }, 'Current'],
    ['Namespace terminating', { kind: 'Namespace', status: { phase: 'Terminating' } }, 'Terminating'],
    ['Job running', { kind: 'Job', status: { active: 1 } }, 'InProgress'],
  ])('%s → %s', (_name, obj, expected) => {
    expect(computeStatus(obj).status).toBe(expected);
  });
});
