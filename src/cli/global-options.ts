import type { Command } from 'commander';
import { resolve } from 'node:path';
import type { LogFormat, Logger } from '../runtime/logger.ts';
import type { Store } from '../store/store.ts';

/** Options every command accepts (defined once on the root program). */
export interface GlobalOptions {
  dataDir: string;
  logLevel: string;
  logFormat: LogFormat;
}

export function addGlobalOptions(program: Command): void {
  program
    .option('--data-dir <dir>', 'data directory: embedded store, artifacts (env KEDGE_DATA_DIR)', process.env.KEDGE_DATA_DIR ?? './.kedge')
    .option('--log-level <level>', 'debug, info, warn or error', 'info')
    .option('--log-format <format>', 'console (for people) or json', 'console');
}

export function globalOptions(command: Command): GlobalOptions {
  const opts = command.optsWithGlobals<{ dataDir: string; logLevel: string; logFormat: string }>();
  if (opts.logFormat !== 'json' && opts.logFormat !== 'console') {
    throw new Error(`--log-format must be console or json, not '${opts.logFormat}'`);
  }
  return { dataDir: resolve(opts.dataDir), logLevel: opts.logLevel, logFormat: opts.logFormat };
}

/** The engine's logger for these options (pino is loaded here, by the commands that log). */
export async function loggerFor(options: GlobalOptions): Promise<Logger> {
  const { createLogger } = await import('../runtime/logger.ts');
  return createLogger({ level: options.logLevel, format: options.logFormat });
}

/** Opens the data dir's store for one command and closes it afterwards. */
export async function withStore<T>(options: GlobalOptions, fn: (store: Store) => Promise<T>): Promise<T> {
  const { openSqliteStore } = await import('../store/sqlite/sqlite-store.ts');
  const store = await openSqliteStore(options.dataDir);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
