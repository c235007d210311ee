import { connect, type Socket } from 'node:net';

/** A socket connected to 127.0.0.1:`port`, or undefined when connecting failed (refused, reset). */
export function connectLoopback(port: number): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('error', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}
