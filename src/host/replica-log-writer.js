// @ts-check
/**
 * The log writer of one replica, a process of its own: `node replica-log-writer.js <file> <maxBytes> <files>`.
 * Reads the replica's output from stdin (the read end of the pipe that is the replica's stdout and stderr)
 * and appends it to `<file>`, rotating by size as it writes: before a chunk would take the file past
 * `maxBytes` it fills the file up to the last line end that fits, renames `<file>.1` … to `<file>.2` … (the
 * oldest falls off: `<files>` files are kept in all, the current one included) and `<file>` to `<file>.1`,
 * and continues in a new `<file>`. So no file ever exceeds `maxBytes` and the total never exceeds
 * `maxBytes × files`, and no line is lost or split unless it is longer than a whole file.
 *
 * Plain JavaScript on purpose: it runs on bare `node`, without the TypeScript loader, to start fast and small.
 * It is started in a session of its own (not in the replica's process group) and ignores SIGTERM, SIGINT and
 * SIGHUP: it ends when the pipe reaches end of file, i.e. when the replica and every process that inherited
 * its output are gone — after their last line is written. It never stops reading: a write error (disk full,
 * log directory removed with its App) drops that chunk, so a replica never blocks or gets SIGPIPE because of
 * its logs. The engine going away does not concern it.
 */
import { closeSync, fstatSync, openSync, renameSync, writeSync } from 'node:fs';

const [file, maxArg, filesArg] = process.argv.slice(2);
const maxBytes = Number(maxArg);
const files = Number(filesArg);
if (!file || !(maxBytes > 0) || !(files >= 1)) {
  process.stderr.write('usage: replica-log-writer.js <file> <maxBytes> <files>\n');
  process.exit(2);
}

for (const signal of /** @type {const} */ (['SIGTERM', 'SIGINT', 'SIGHUP']))
  process.on(signal, () => undefined);
// Dying while the replica runs would hand it SIGPIPE on its next write: an unexpected error costs output only.
process.on('uncaughtException', () => undefined);

/** The open log file, or -1 while it cannot be opened. */
let fd = -1;
let size = 0;
open();

process.stdin.on('data', (/** @type {Buffer} */ chunk) => write(chunk));
process.stdin.on('end', finish);
process.stdin.on('error', finish);

function finish() {
  if (fd >= 0) closeSync(fd);
  process.exit(0);
}

/** @param {Buffer} chunk */
function write(chunk) {
  let rest = chunk;
  while (rest.length > 0) {
    const room = maxBytes - size;
    if (rest.length <= room) {
      append(rest);
      return;
    }
    // Fill the file up to a line end that fits; a line longer than a whole file is cut at the cap.
    let cut = room > 0 ? rest.lastIndexOf(10, room - 1) + 1 : 0;
    if (cut === 0 && size === 0) cut = room;
    if (cut > 0) append(rest.subarray(0, cut));
    rotate();
    rest = rest.subarray(cut);
  }
}

/** @param {Buffer} bytes */
function append(bytes) {
  if (fd < 0) return;
  let offset = 0;
  try {
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
  } catch {
    // disk full or file gone: this output is dropped, the replica goes on
  }
  size += offset;
}

function rotate() {
  try {
    if (fd >= 0) closeSync(fd);
  } catch {
    // already unusable
  }
  fd = -1;
  for (let i = files - 1; i >= 1; i--) {
    try {
      renameSync(i === 1 ? file : `${file}.${i - 1}`, `${file}.${i}`);
    } catch {
      // that generation does not exist (yet)
    }
  }
  open(files === 1 ? 'w' : 'a');
}

function open(flags = 'a') {
  try {
    fd = openSync(file, flags, 0o600);
    size = fstatSync(fd).size;
  } catch {
    // the log directory is gone (its App was deleted): drop output until the replica ends
    fd = -1;
    size = 0;
  }
}
