import { connect, createServer } from 'node:net';

/**
 * Returns a TCP port on 127.0.0.1 that was free a moment ago: binds port 0, reads the port the kernel
 * picked and closes the socket. Another process may take it before the caller binds it, so callers that
 * start servers on it retry with a new port when the bind fails.
 */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() =>
        port > 0 ? resolve(port) : reject(new Error('the kernel assigned no loopback port')),
      );
    });
  });
}

/** True when something accepts TCP connections on 127.0.0.1:`port`. */
export async function isLoopbackPortOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Runs `start` with a free loopback port, and again with a new port (up to `attempts` times, default 3)
 * when it fails because another process took the port between picking and binding (its error message says
 * `address already in use`). Any other failure is thrown at once.
 */
export async function withFreeLoopbackPort<T>(start: (port: number) => Promise<T>, attempts = 3): Promise<T> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      return await start(await freeLoopbackPort());
    } catch (error) {
      lastError = error;
      if (!(error instanceof Error) || !/address already in use/.test(error.message)) throw error;
    }
  }
  throw lastError;
}
