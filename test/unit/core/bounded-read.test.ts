import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BoundedReadError, readRegularFile, readRegularFileSync, readRegularFileHead, checkRegularFile } from '../../../src/core/boundedRead';

describe('core/boundedRead: only regular files under a cap', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'amc-bounded-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const refused = async (p: Promise<unknown>, reason: string, text: RegExp) => {
    const t0 = Date.now();
    await assert.rejects(p, (e: unknown) => e instanceof BoundedReadError && e.reason === reason && text.test(e.message));
    assert.ok(Date.now() - t0 < 1000, 'refused within a second');
  };

  it('reads a regular file, whole or its head', async () => {
    const f = join(dir, 'a.bin');
    writeFileSync(f, Buffer.from('hello world'));
    assert.equal((await readRegularFile(f)).toString(), 'hello world');
    assert.equal(readRegularFileSync(f).toString(), 'hello world');
    assert.equal((await readRegularFileHead(f, 5)).toString(), 'hello');
    assert.equal(await checkRegularFile(f), 11);
  });
  it('refuses /dev/zero and /dev/urandom as character devices, naming the file', async () => {
    await refused(readRegularFile('/dev/zero', { what: 'image' }), 'not-regular', /^\/dev\/zero: the image is a character device/);
    await refused(readRegularFile('/dev/urandom'), 'not-regular', /character device/);
    assert.throws(() => readRegularFileSync('/dev/zero'), (e: unknown) => e instanceof BoundedReadError && e.reason === 'not-regular');
  });
  it('refuses a FIFO without blocking on it', async () => {
    const fifo = join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    await refused(readRegularFile(fifo), 'not-regular', /FIFO/);
    assert.throws(() => readRegularFileSync(fifo), /FIFO/);
  });
  it('refuses a directory, a missing file and a file over the cap', async () => {
    await refused(readRegularFile(dir), 'not-regular', /directory/);
    await refused(readRegularFile(join(dir, 'nope.jpg'), { what: 'image' }), 'missing', /image not found/);
    const big = join(dir, 'big.bin');
    writeFileSync(big, Buffer.alloc(2048));
    await refused(readRegularFile(big, { maxBytes: 1024 }), 'too-large', /over the .* limit/);
  });
});
