import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type LogFormat = 'json' | 'console';

/**
 * The engine's logger: JSON lines for machines, or a readable console format for people (colour unless
 * `NO_COLOR` is set or the output is not a terminal). Credentials must never be passed to it.
 */
export function createLogger(options: { level?: string; format?: LogFormat; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = options.level ?? 'info';
  const destination = options.destination ?? process.stderr;
  if ((options.format ?? 'console') === 'json') return pino({ level, base: undefined }, destination);
  const colorize = !process.env.NO_COLOR && (destination as NodeJS.WriteStream).isTTY === true;
  const stream = pretty({ colorize, destination, sync: true, singleLine: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l' });
  return pino({ level, base: undefined }, stream);
}

export type { Logger };
