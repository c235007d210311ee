/**
 * The forwarding thread's entry (a worker thread, see {@link ForwardingThread}): runs one
 * {@link HttpForwarder} per `http` expose proxy, driven by {@link ForwardingCommand} messages, and answers
 * every command that has a `call` number with a {@link ForwardingReply} once it is carried out.
 */
import { parentPort } from 'node:worker_threads';
import type { ForwardingCommand, ForwardingReply } from './forwarding-thread.ts';
import { HttpForwarder } from './http-forwarder.ts';

const port = parentPort;
if (!port) throw new Error('http-forwarding-worker.ts runs as a worker thread only');

const forwarders = new Map<number, Promise<HttpForwarder | undefined>>();

function reply(message: ForwardingReply): void {
  port!.postMessage(message);
}

async function carryOut(command: ForwardingCommand): Promise<unknown> {
  switch (command.op) {
    case 'listen': {
      const listening = HttpForwarder.listen(command.port, command.owner);
      forwarders.set(
        command.id,
        listening.catch(() => undefined),
      );
      await listening;
      return;
    }
    case 'backends':
      (await forwarders.get(command.id))?.setBackends(command.ports, command.split, command.revisions);
      return;
    case 'stats': {
      const stats = (await forwarders.get(command.id))?.stats;
      return command.window ? (stats?.takeWindow() ?? []) : (stats?.totalsView() ?? []);
    }
    case 'drain':
      await (await forwarders.get(command.id))?.drain(command.port, command.timeoutMs);
      return;
    case 'close': {
      const forwarder = await forwarders.get(command.id);
      forwarders.delete(command.id);
      await forwarder?.close();
      return;
    }
  }
}

port.on('message', (command: ForwardingCommand) => {
  // Commands of one proxy are carried out in order: `backends` before a later `drain` sees the new set.
  const done = carryOut(command);
  // A command nobody waits for (a listen sent again after a restart) fails quietly rather than end the thread.
  if (command.call === undefined) return void done.catch(() => undefined);
  const call = command.call;
  done.then(
    (result: unknown) => reply({ call, result }),
    (error: unknown) => reply({ call, error: error instanceof Error ? error.message : String(error) }),
  );
});
