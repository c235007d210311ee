import { describe, expect, it } from 'vitest';
import { credentialsFromSecret } from './git-credentials.ts';

describe('credentialsFromSecret', () => {
  it.each([
    ['basic auth', { username: 'u', password: 'p' }, { username: 'u', password: 'p' }],
    ['bearer token', { bearerToken: 't' }, { bearerToken: 't' }],
    ['ca.crt', { 'ca.crt': 'PEM' }, { caPem: 'PEM' }],
    ['legacy caFile', { caFile: 'PEM' }, { caPem: 'PEM' }],
    ['ca.crt wins over caFile', { 'ca.crt': 'NEW', caFile: 'OLD' }, { caPem: 'NEW' }],
    [
      'ssh with passphrase in password',
      { identity: 'KEY', known_hosts: 'KH', password: 'pp' },
      { sshIdentity: 'KEY', sshKnownHosts: 'KH', sshPassphrase: 'pp' },
    ],
    ['empty values are absent', { username: '', password: '' }, {}],
  ])('%s', (_title, data: Record<string, string>, expected) => {
    expect(credentialsFromSecret(data)).toEqual(expected);
  });
});
