// Bounded reads of files that a dataset (not the user) names: an annotation file decides which image,
// instances.json or Annotations/*.xml is read, so every such read first checks what the path is.
// Opening with O_NONBLOCK makes a FIFO open return at once (a blocking open waits forever for a writer);
// fstat on the open descriptor (not a stat of the path) closes the race between the check and the read.
// Only regular files under a size cap are read, and never more than the size fstat reported plus one byte,
// so /dev/zero, /dev/urandom, FIFOs, sockets, directories and growing files are refused within a second
// with memory bounded.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import * as fs from 'node:fs';
import { errorMessage } from './errors';

/** Default cap for one file read on a dataset's say-so (setting `amc.maxFileMB`, CLI `--max-file-mb`). */
export const DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024;

export type BoundedReadReason = 'missing' | 'not-regular' | 'too-large' | 'unreadable' | 'changed';

/** A file refused or not read; `message` names the file and the reason in plain words. */
export class BoundedReadError extends Error {
  constructor(readonly file: string, readonly reason: BoundedReadReason, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'BoundedReadError';
  }
}

export interface BoundedReadOptions {
  /** Largest size accepted, in bytes (default {@link DEFAULT_MAX_FILE_BYTES}). */
  maxBytes?: number;
  /** What the file is, for messages ("image", "instances.json"); default "file". */
  what?: string;
}

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

function mb(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0)} MB`;
}

function openError(file: string, what: string, err: unknown): BoundedReadError {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new BoundedReadError(file, 'missing', `${what} not found`);
  const msg = errorMessage(err);
  return new BoundedReadError(file, 'unreadable', `cannot read the ${what}: ${msg}`);
}

function checkStat(file: string, st: fs.Stats, what: string, maxBytes: number): void {
  if (!st.isFile()) throw new BoundedReadError(file, 'not-regular', `the ${what} is ${kindOf(st)}, not a regular file; refused`);
  if (st.size > maxBytes) {
    throw new BoundedReadError(file, 'too-large', `the ${what} is ${mb(st.size)}, over the ${mb(maxBytes)} limit; refused (raise the limit to read it)`);
  }
}

/** Opens `file` without blocking on FIFOs and checks it is a regular file within the cap. The caller closes. */
export async function openRegularFile(file: string, opts: BoundedReadOptions = {}): Promise<{ handle: FileHandle; size: number }> {
  const what = opts.what ?? 'file';
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_FILE_BYTES;
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw openError(file, what, err);
  }
  try {
    const st = await handle.stat();
    checkStat(file, st, what, maxBytes);
    return { handle, size: st.size };
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
}

/** Checks without reading: throws a {@link BoundedReadError} unless `file` is a regular file within the cap. */
export async function checkRegularFile(file: string, opts: BoundedReadOptions = {}): Promise<number> {
  const { handle, size } = await openRegularFile(file, opts);
  await handle.close();
  return size;
}

/** Reads a whole regular file of at most `maxBytes`; refuses anything else (see the header comment). */
export async function readRegularFile(file: string, opts: BoundedReadOptions = {}): Promise<Buffer> {
  const what = opts.what ?? 'file';
  const { handle, size } = await openRegularFile(file, opts);
  try {
    // One byte more than fstat said: a file that grew between fstat and read is refused, not read on and on.
    const buf = Buffer.allocUnsafe(size + 1);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await handle.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got > size) throw new BoundedReadError(file, 'changed', `the ${what} grew while it was read; refused`);
    return buf.subarray(0, got);
  } catch (err) {
    if (err instanceof BoundedReadError) throw err;
    throw openError(file, what, err);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** Synchronous {@link readRegularFile}, for the few readers that are synchronous today. */
export function readRegularFileSync(file: string, opts: BoundedReadOptions = {}): Buffer {
  const what = opts.what ?? 'file';
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_FILE_BYTES;
  let fd: number;
  try {
    fd = fs.openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw openError(file, what, err);
  }
  try {
    const st = fs.fstatSync(fd);
    checkStat(file, st, what, maxBytes);
    const buf = Buffer.allocUnsafe(st.size + 1);
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    if (got > st.size) throw new BoundedReadError(file, 'changed', `the ${what} grew while it was read; refused`);
    return buf.subarray(0, got);
  } catch (err) {
    if (err instanceof BoundedReadError) throw err;
    throw openError(file, what, err);
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads at most the first `bytes` bytes of a regular file (image headers: size without decoding). */
export async function readRegularFileHead(file: string, bytes: number, opts: BoundedReadOptions = {}): Promise<Buffer> {
  const { handle, size } = await openRegularFile(file, opts);
  try {
    const buf = Buffer.alloc(Math.min(bytes, size));
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close().catch(() => undefined);
  }
}
