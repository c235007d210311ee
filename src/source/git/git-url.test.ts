import { describe, expect, it } from 'vitest';
import { GitError } from './git-error.ts';
import { gitTransport, scrubMessage, scrubUrl, splitUrlCredentials } from './git-url.ts';

describe('gitTransport', () => {
  it.each([
    ['https://github.com/org/repo', 'http'],
    ['http://host/repo.git', 'http'],
    ['ssh://git@github.com/org/repo', 'ssh'],
    ['git://host/repo', 'git'],
    ['file:///srv/repo', 'file'],
  ])('%s → %s', (url, transport) => expect(gitTransport(url)).toBe(transport));

  it.each(['ftp://host/repo', 'git@github.com:org/repo.git', '/srv/repo', 'ext::sh -c touch% /tmp/pwned'])(
    'rejects %s',
    (url) => {
      expect(() => gitTransport(url)).toThrow(GitError);
    },
  );

  it('does not echo credentials of a rejected url', () => {
    expect(() => gitTransport('ftp://user:hunter2@host/repo')).toThrow(/^(?!.*hunter2)/);
  });
});

describe('scrubUrl', () => {
  it.each([
    ['fatal: unable to access https://user:pa55@host/repo', 'fatal: unable to access https://host/repo'],
    ['https://token@host/repo and http://u:p@other/x', 'https://host/repo and http://other/x'],
    ['ssh://git@host/repo', 'ssh://git@host/repo'],
    ['ssh://git:pw@host/repo', 'ssh://host/repo'],
    [
      "fetch from 'https://host/repo.git?token=s3cr3t&ref=x': 403",
      "fetch from 'https://host/repo.git?token=***&ref=***': 403",
    ],
    ['https://u:p@host/r?sig=abc#frag', 'https://host/r?sig=***#frag'],
  ])('%s', (input, expected) => expect(scrubUrl(input)).toBe(expected));

  it('replaces known secrets anywhere', () => {
    expect(scrubMessage('header Bearer abcd1234 rejected', ['abcd1234'])).toBe('header Bearer *** rejected');
  });
});

describe('splitUrlCredentials', () => {
  it.each([
    ['https://u:p%40ss@host/repo', {}, 'https://host/repo', { username: 'u', password: 'p@ss' }],
    ['https://u:p@host/repo', { bearerToken: 't' }, 'https://host/repo', { bearerToken: 't' }],
    ['ssh://git:pw@host/repo', {}, 'ssh://git@host/repo', {}],
    ['https://host/repo', {}, 'https://host/repo', {}],
  ])('%s', (url, creds, expectedUrl, expectedCreds) => {
    expect(splitUrlCredentials(url, creds)).toEqual({ url: expectedUrl, creds: expectedCreds });
  });
});
