import { describe, expect, it } from 'vitest';
import { DockerConfigError, credentialsFromDockerConfig } from './docker-config.ts';

const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('credentialsFromDockerConfig', () => {
  it.each([
    [
      'auth of the host',
      { auths: { 'ghcr.io': { auth: b64('u:p:with:colons') } } },
      'ghcr.io',
      { username: 'u', password: 'p:with:colons' },
    ],
    [
      'username and password',
      { auths: { '127.0.0.1:5000': { username: 'u', password: 'p' } } },
      '127.0.0.1:5000',
      { username: 'u', password: 'p' },
    ],
    [
      'a key with scheme and path',
      { auths: { 'https://index.docker.io/v1/': { auth: b64('hub:pw') } } },
      'registry-1.docker.io',
      { username: 'hub', password: 'pw' },
    ],
    [
      'an identity token',
      { auths: { 'r.io': { identitytoken: 'tok' } } },
      'r.io',
      { username: '<token>', password: 'tok' },
    ],
    [
      'the older .dockercfg map',
      { 'r.io': { auth: b64('old:pw') } },
      'r.io',
      { username: 'old', password: 'pw' },
    ],
    ['another registry only', { auths: { 'other.io': { auth: b64('u:p') } } }, 'r.io', undefined],
  ])('%s', (_name, config, registry, expected) => {
    expect(credentialsFromDockerConfig(JSON.stringify(config), registry)).toEqual(expected);
  });

  it('refuses what is not JSON, without quoting it', () => {
    expect(() => credentialsFromDockerConfig('{secret-ish', 'r.io')).toThrow(DockerConfigError);
    expect(() => credentialsFromDockerConfig('{secret-ish', 'r.io')).not.toThrow(/secret-ish/);
  });
});
