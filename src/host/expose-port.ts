import type { Server } from 'node:net';

/** The expose port cannot be listened on (taken, or not allowed). */
export class ExposePortError extends Error {
  override name = 'ExposePortError';
  readonly reason = 'ExposeFailed';
}

/**
 * Listens with `server` on 127.0.0.1:`port`, exclusively. Rejects with {@link ExposePortError} naming `owner`
 * and the port when it cannot (the port is taken, or not allowed).
 */
export async function listenOnExposePort(server: Server, port: number, owner: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const why =
        error.code === 'EADDRINUSE' ? 'the port is in use by another process or App' : error.message;
      reject(new ExposePortError(`cannot expose ${owner} on 127.0.0.1:${port}: ${why}`, { cause: error }));
    });
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
}
