import { readEngineLock } from '../store/engine-lock.ts';
import { CliError } from './cli-error.ts';

/** Fails plainly when no engine holds the data dir: reconcile requests would never be handled. */
export async function requireRunningEngine(dataDir: string): Promise<void> {
  if (await readEngineLock(dataDir)) return;
  throw new CliError(
    `no kedge engine is running on data dir ${dataDir}: start one with 'kedge up' (or pass the --data-dir it uses)`,
  );
}
