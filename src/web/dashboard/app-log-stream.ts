import type { ServerResponse } from 'node:http';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { appLogDir } from '../../host/replica-logs.ts';

const POLL_MS = 250;
/** Bytes of existing output sent per replica when a page opens (its last lines). */
const INITIAL_BYTES = 16 * 1024;

/**
 * Tails an App's replica logs (`<data-dir>/logs/<ns>/<app>/replica-N.log`, as `kedge logs app -f` reads them)
 * to `res` as server-sent `lines` messages `{replica, text}` until the client goes away. A rotated or
 * truncated file is read again from its start.
 */
export function streamAppLogs(res: ServerResponse, dataDir: string, namespace: string, app: string): void {
  const dir = appLogDir(dataDir, namespace, app);
  const positions = new Map<string, { ino: number; offset: number }>();
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-store',
    connection: 'keep-alive',
  });
  res.write('retry: 1000\n\n');
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  res.on('close', () => {
    stopped = true;
    clearTimeout(timer);
  });
  const poll = async (): Promise<void> => {
    const names = (await readdir(dir).catch(() => [] as string[]))
      .filter((n) => /^replica-[0-9]+\.log$/.test(n))
      .sort();
    for (const name of names) {
      const file = join(dir, name);
      const current = await stat(file).catch(() => undefined);
      if (!current) continue;
      let position = positions.get(file);
      const first = !position;
      if (!position) position = { ino: current.ino, offset: Math.max(0, current.size - INITIAL_BYTES) };
      if (position.ino !== current.ino || position.offset > current.size)
        position = { ino: current.ino, offset: 0 };
      const text = await readLines(file, position.offset, current.size, first && position.offset > 0);
      positions.set(file, { ino: position.ino, offset: position.offset + text.bytes });
      if (text.text && !stopped)
        res.write(
          `event: lines\ndata: ${JSON.stringify({ replica: Number(/[0-9]+/.exec(name)?.[0]), text: text.text })}\n\n`,
        );
    }
  };
  const loop = (): void => {
    if (stopped) return;
    poll().then(
      () => (timer = setTimeout(loop, POLL_MS)),
      () => (timer = setTimeout(loop, POLL_MS)),
    );
  };
  loop();
}

/** The complete lines between `from` and `to` (a partial last line waits for its newline). */
async function readLines(
  file: string,
  from: number,
  to: number,
  skipPartialFirst: boolean,
): Promise<{ text: string; bytes: number }> {
  if (to <= from) return { text: '', bytes: 0 };
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(to - from);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, from);
    const end = buffer.subarray(0, bytesRead).lastIndexOf(10) + 1;
    // Starting mid-file (the last bytes only): skip the partial first line.
    const start = skipPartialFirst ? buffer.subarray(0, end).indexOf(10) + 1 : 0;
    return { text: buffer.subarray(Math.min(start, end), end).toString('utf8'), bytes: end };
  } finally {
    await handle.close();
  }
}
