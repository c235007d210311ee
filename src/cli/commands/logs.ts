import type { Command } from 'commander';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { replicaLogFile } from '../../host/replica-logs.ts';
import { CliError } from '../cli-error.ts';
import { globalOptions } from '../global-options.ts';

interface LogsOptions {
  namespace: string;
  follow?: boolean;
  replica?: string;
  tail: string;
}

/** `kedge logs app NAME [-f] [--replica N] [--tail N]`: the output of an App's replicas, from the data dir. */
export function registerLogsCommand(program: Command): void {
  program
    .command('logs')
    .description('show logs of host-runtime objects')
    .command('app <name>')
    .description("print an App's replica logs (every replica, prefixed, unless --replica is given)")
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('-f, --follow', 'keep printing new lines until interrupted')
    .option('--replica <n>', 'only this replica index')
    .option('--tail <n>', 'lines of existing output to print per replica (-1: all)', '-1')
    .action(async (name: string, opts: LogsOptions, command: Command) => {
      const { dataDir } = globalOptions(command);
      const files = await logFiles(dataDir, opts.namespace, name, opts.replica);
      const prefix = files.length > 1 || opts.replica === undefined;
      const positions = new Map<string, Position>();
      for (const file of files) {
        const ino = await stat(file).then((s) => s.ino, () => 0);
        const text = await readFrom(file, 0);
        positions.set(file, { ino, offset: text.bytes });
        write(file, lastLines(text.text, Number(opts.tail)), prefix);
      }
      if (!opts.follow) return;
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        for (const file of await logFiles(dataDir, opts.namespace, name, opts.replica).catch(() => files)) {
          const current = await stat(file).catch(() => undefined);
          if (!current) continue;
          let { ino, offset } = positions.get(file) ?? { ino: current.ino, offset: 0 };
          if (current.ino !== ino) {
            // Rotated: the file we were reading is now a numbered generation; print its rest, then the new file.
            const rotated = await rotatedGeneration(file, ino);
            if (rotated) write(file, (await readFrom(rotated, offset, true)).text, prefix);
            ino = current.ino;
            offset = 0;
          } else if (offset > current.size) {
            offset = 0; // truncated in place
          }
          const text = await readFrom(file, offset);
          positions.set(file, { ino, offset: offset + text.bytes });
          write(file, text.text, prefix);
        }
      }
    });
}

/** Where `kedge logs -f` is in one replica's log: the file (inode) and the bytes printed of it. */
interface Position {
  ino: number;
  offset: number;
}

/** The numbered generation (`<file>.1`, `.2`, …) that is the file with inode `ino`, if one still is. */
async function rotatedGeneration(file: string, ino: number): Promise<string | undefined> {
  for (let i = 1; i <= 9; i++) {
    const candidate = `${file}.${i}`;
    const found = await stat(candidate).catch(() => undefined);
    if (!found) return undefined;
    if (found.ino === ino) return candidate;
  }
  return undefined;
}

async function logFiles(dataDir: string, namespace: string, app: string, replica: string | undefined): Promise<string[]> {
  if (replica !== undefined) {
    if (!/^[0-9]+$/.test(replica)) throw new CliError(`--replica must be a replica index such as 0, not '${replica}'`);
    const file = replicaLogFile(dataDir, namespace, app, Number(replica));
    if (!(await stat(file).catch(() => undefined))) throw new CliError(`no logs for replica ${replica} of App '${namespace}/${app}' in ${dataDir}`);
    return [file];
  }
  const dir = join(dataDir, 'logs', namespace, app);
  const names = await readdir(dir).catch(() => [] as string[]);
  const files = names
    .filter((n) => /^replica-[0-9]+\.log$/.test(n))
    .sort((a, b) => Number(/[0-9]+/.exec(a)?.[0]) - Number(/[0-9]+/.exec(b)?.[0]))
    .map((n) => join(dir, n));
  if (files.length === 0) throw new CliError(`no logs for App '${namespace}/${app}' in ${dataDir}: has it run on this data dir?`);
  return files;
}

/** The complete lines of `file` from `offset` (all of the rest when `final`: nothing more will be written). */
async function readFrom(file: string, offset: number, final = false): Promise<{ text: string; bytes: number }> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return { text: '', bytes: 0 };
  try {
    const { size } = await handle.stat();
    const buffer = Buffer.alloc(Math.max(0, size - offset));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
    // Hold back a partial last line until it is complete.
    const end = final ? bytesRead : buffer.subarray(0, bytesRead).lastIndexOf(10) + 1;
    return { text: buffer.subarray(0, end).toString('utf8'), bytes: end };
  } finally {
    await handle.close();
  }
}

function lastLines(text: string, count: number): string {
  if (count < 0) return text;
  const lines = text.split('\n').slice(0, -1);
  return lines.slice(Math.max(0, lines.length - count)).map((l) => `${l}\n`).join('');
}

function write(file: string, text: string, prefix: boolean): void {
  if (!text) return;
  const tag = `[${/replica-[0-9]+/.exec(file)?.[0] ?? file}] `;
  process.stdout.write(prefix ? text.replace(/^(?=.)/gm, tag) : text);
}
