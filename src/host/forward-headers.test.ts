import { describe, expect, it } from 'vitest';
import { endToEndHeaders } from './forward-headers.ts';

describe('endToEndHeaders', () => {
  it.each([
    [
      'keeps end-to-end fields, lowercased',
      ['Content-Type', 'text/plain', 'X-App', '1'],
      { 'content-type': 'text/plain', 'x-app': '1' },
    ],
    [
      'drops the hop-by-hop fields of RFC 9110',
      [
        'Connection',
        'keep-alive',
        'Keep-Alive',
        'timeout=5',
        'TE',
        'trailers',
        'Trailer',
        'Expires',
        'Transfer-Encoding',
        'chunked',
        'Upgrade',
        'h2c',
        'Host',
        'a',
      ],
      { host: 'a' },
    ],
    [
      'drops every Proxy-* field',
      ['Proxy-Authorization', 'Basic eA==', 'Proxy-Connection', 'keep-alive', 'Accept', '*/*'],
      { accept: '*/*' },
    ],
    [
      'drops the fields Connection names',
      ['Connection', 'close, X-Hop', 'X-Hop', 'secret', 'X-Kept', 'yes'],
      { 'x-kept': 'yes' },
    ],
    [
      'keeps repeated fields as a list',
      ['Set-Cookie', 'a=1', 'set-cookie', 'b=2'],
      { 'set-cookie': ['a=1', 'b=2'] },
    ],
  ])('%s', (_name, raw, expected) => {
    expect(endToEndHeaders(raw)).toEqual(expected);
  });
});
