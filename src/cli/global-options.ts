import type { Command } from 'commander';
import { resolve } from 'node:path';
import type { LogFormat, Logger } from '../runtime/logger.ts';
import type { Store } from '../store/store.ts';
import { CliError } from './cli-error.ts';

/** Where Kedge's objects live: the data dir's SQLite file, or the custom resources of a cluster. */
export type StoreKind = 'sqlite' | 'kubernetes';

/** Options every command accepts (defined once on the root program), and the store options of the command. */
export interface GlobalOptions {
  dataDir: string;
  logLevel: string;
  logFormat: LogFormat;
  /** The command's store: see {@link addStoreOptions} for the rule. */
  store: StoreKind;
  /** `--kubeconfig`: the cluster of the Kubernetes store (and `kedge up`'s target cluster). */
  kubeconfig?: string;
  /** `--context`: a context of that kubeconfig. */
  context?: string;
}

/**
 * `--store`, `--kubeconfig` and `--context` of a command that reads or writes Kedge's objects. The rule: the
 * store is `--store` when given, else `KEDGE_STORE`, else the cluster's custom resources when `--kubeconfig` or
 * `--context` is given on the command (as `flux get` reads the cluster), else the data dir's SQLite store. A
 * KUBECONFIG variable alone never switches a command to the cluster: it only says where the cluster is once
 * the Kubernetes store is chosen, so a standalone user with KUBECONFIG set keeps seeing the data dir.
 */
export function addStoreOptions(command: Command): Command {
  return command
    .option('--store <kind>', 'sqlite (the data dir) or kubernetes (custom resources in the cluster); env KEDGE_STORE')
    .option('--kubeconfig <file>', 'with the kubernetes store: kubeconfig file (default: in-cluster, else $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'with the kubernetes store: kubeconfig context');
}

export function addGlobalOptions(program: Command): void {
  program
    .option('--data-dir <dir>', 'data directory: embedded store, artifacts (env KEDGE_DATA_DIR)', process.env.KEDGE_DATA_DIR ?? './.kedge')
    .option('--log-level <level>', 'debug, info, warn or error', 'info')
    .option('--log-format <format>', 'console (for people) or json', 'console');
}

/**
 * The options of `command` and the root program. `kubeconfigSelectsStore: false` for commands whose
 * `--kubeconfig` names a cluster to apply or diff against (`up`, `diff`): there only `--store` (or
 * `KEDGE_STORE`) chooses the Kubernetes store.
 */
export function globalOptions(command: Command, { kubeconfigSelectsStore = true } = {}): GlobalOptions {
  const opts = command.optsWithGlobals<{
    dataDir: string;
    logLevel: string;
    logFormat: string;
    store?: string;
    kubeconfig?: string;
    context?: string;
  }>();
  if (opts.logFormat !== 'json' && opts.logFormat !== 'console') {
    throw new Error(`--log-format must be console or json, not '${opts.logFormat}'`);
  }
  const chosen = opts.store ?? process.env.KEDGE_STORE;
  if (chosen !== undefined && chosen !== 'sqlite' && chosen !== 'kubernetes') {
    throw new CliError(`--store must be sqlite or kubernetes, not '${chosen}'`);
  }
  const byCluster = kubeconfigSelectsStore && (opts.kubeconfig !== undefined || opts.context !== undefined);
  return {
    dataDir: resolve(opts.dataDir),
    logLevel: opts.logLevel,
    logFormat: opts.logFormat,
    store: chosen ?? (byCluster ? 'kubernetes' : 'sqlite'),
    kubeconfig: opts.kubeconfig,
    context: opts.context,
  };
}

/** The engine's logger for these options (pino is loaded here, by the commands that log). */
export async function loggerFor(options: GlobalOptions): Promise<Logger> {
  const { createLogger } = await import('../runtime/logger.ts');
  return createLogger({ level: options.logLevel, format: options.logFormat });
}

/** Opens the command's store (the data dir's, or the cluster's) for one command and closes it afterwards. */
export async function withStore<T>(options: GlobalOptions, fn: (store: Store) => Promise<T>): Promise<T> {
  const { openStore } = await import('../store/open-store.ts');
  const cluster = { kubeconfig: options.kubeconfig, context: options.context };
  const store = await openStore({ kind: options.store, dataDir: options.dataDir, cluster });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
