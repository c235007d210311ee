import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { addGlobalOptions, addStoreOptions, globalOptions } from './global-options.ts';

/** The store a command parsed from `args` uses, with `env` set. */
function storeOf(args: string[], env: Record<string, string> = {}, kubeconfigSelectsStore = true): string {
  Object.assign(process.env, env);
  const root = new Command('kedge').exitOverride();
  addGlobalOptions(root);
  let store = '';
  addStoreOptions(root.command('get')).action((_opts: unknown, command: Command) => {
    store = globalOptions(command, { kubeconfigSelectsStore }).store;
  });
  root.parse(['get', ...args], { from: 'user' });
  return store;
}

describe('which store a CLI command uses', () => {
  afterEach(() => {
    delete process.env.KEDGE_STORE;
    delete process.env.KUBECONFIG;
  });

  it.each([
    ['nothing: the data dir', [], {}, 'sqlite'],
    ['KUBECONFIG alone never switches', [], { KUBECONFIG: '/k' }, 'sqlite'],
    ['--kubeconfig on the command: the cluster, as flux get', ['--kubeconfig', '/k'], {}, 'kubernetes'],
    ['--context on the command', ['--context', 'prod'], {}, 'kubernetes'],
    ['--store wins over --kubeconfig', ['--store', 'sqlite', '--kubeconfig', '/k'], {}, 'sqlite'],
    ['KEDGE_STORE', [], { KEDGE_STORE: 'kubernetes' }, 'kubernetes'],
    ['--store wins over KEDGE_STORE', ['--store', 'sqlite'], { KEDGE_STORE: 'kubernetes' }, 'sqlite'],
  ])('%s', (_, args, env, expected) => {
    expect(storeOf(args, env)).toBe(expected);
  });

  it('keeps --kubeconfig a target cluster for up and diff', () => {
    expect(storeOf(['--kubeconfig', '/k'], {}, false)).toBe('sqlite');
  });

  it('refuses an unknown store, naming it', () => {
    expect(() => storeOf(['--store', 'etcd'])).toThrow("--store must be sqlite or kubernetes, not 'etcd'");
  });
});
