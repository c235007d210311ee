import { describe, expect, it } from 'vitest';
import { parseMemoryQuantity, planMemoryLimit } from './memory-limit.ts';

describe('memory limits', () => {
  it.each([
    ['256Mi', 268_435_456],
    ['1Gi', 1_073_741_824],
    ['500M', 500_000_000],
    ['1048576', 1_048_576],
    ['1.5Gi', 1_610_612_736],
  ])('%s is %d bytes', (quantity, bytes) => expect(parseMemoryQuantity(quantity)).toBe(bytes));

  it('rejects what is no quantity, naming it', () => expect(() => parseMemoryQuantity('lots')).toThrow(/'lots'/));

  it('wraps the command with prlimit when it is on PATH, and says so when it is not', () => {
    const limited = planMemoryLimit(['node', 'server.js'], '256Mi', '/usr/bin:/bin');
    expect(limited.argv).toEqual([expect.stringMatching(/\/prlimit$/), '--data=268435456', '--', 'node', 'server.js']);
    expect(limited.description).toBe('enforced as RLIMIT_DATA 256Mi (prlimit)');
    const unlimited = planMemoryLimit(['node', 'server.js'], '256Mi', '/nonexistent');
    expect(unlimited).toEqual({ argv: ['node', 'server.js'], description: 'not enforced: prlimit (util-linux) not found on PATH' });
    expect(planMemoryLimit(['node'], undefined).description).toBe('no memory limit set');
  });
});
