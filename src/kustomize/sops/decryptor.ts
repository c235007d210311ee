import { tmpdir } from 'node:os';
import type { SopsFormat } from './sops-format.ts';
import type { SopsKeys } from './sops-keys.ts';
import { SopsSession } from './sops-session.ts';

/**
 * What one render decrypts with: the keys, and a `SopsSession` opened on the first decryption (a render with
 * nothing encrypted starts no sops, imports no key and makes no temp dir). `close()` ends the session, removing
 * its private dir; call it when the render ends, whatever happened.
 */
export class Decryptor {
  #session: Promise<SopsSession> | undefined;

  constructor(
    readonly keys: SopsKeys,
    private readonly tmpRoot: string = tmpdir(),
  ) {}

  /** Decrypts `data` (a sops document of `input` format) into `output` format; `what` names it in errors. */
  async decrypt(data: Buffer, input: SopsFormat, output: SopsFormat, what: string): Promise<Buffer> {
    this.#session ??= SopsSession.open(this.keys, this.tmpRoot);
    return (await this.#session).decrypt(data, input, output, what);
  }

  async close(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    if (session) await (await session.catch(() => undefined))?.close();
  }
}
