import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadFile, type RemoteFile } from '../../data/download';

// A local server on 127.0.0.1 serving small zips made here, a truncated response
// and a response whose content does not match its checksum.
let server: Server;
let base: string;
let dir: string;
const good = zipSync({
  'images_background/A/character01/0001_01.png': new Uint8Array([1, 2, 3, 4, 5]),
});
const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mg-download-'));
  server = createServer((request, response) => {
    if (request.url === '/good.zip') {
      response.writeHead(200, { 'content-length': good.length });
      response.end(Buffer.from(good));
    } else if (request.url === '/truncated.zip') {
      // Promises more bytes than it sends, then drops the connection.
      response.writeHead(200, { 'content-length': good.length + 1000 });
      response.write(Buffer.from(good));
      setTimeout(() => response.socket?.destroy(), 20);
    } else {
      response.writeHead(404);
      response.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('The test server has no port.');
  base = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

const file = (name: string, path: string, sum = md5(good)): RemoteFile => ({
  name,
  url: `${base}/${path}`,
  md5: sum,
});

describe('downloadFile', () => {
  it('downloads, verifies and skips a file already present', async () => {
    const updates: number[] = [];
    const progress = {
      start: () => undefined,
      update: (n: number) => updates.push(n),
      stop: () => undefined,
    };
    expect(await downloadFile(file('a.zip', 'good.zip'), dir, progress)).toBe('downloaded');
    expect(new Uint8Array(await readFile(join(dir, 'a.zip')))).toEqual(good);
    expect(updates.at(-1)).toBe(good.length);
    expect(await downloadFile(file('a.zip', 'good.zip'), dir)).toBe('present');
  });

  it('rejects a truncated response and leaves no partial file', async () => {
    await expect(downloadFile(file('b.zip', 'truncated.zip'), dir)).rejects.toThrow(
      /broke off|truncated/,
    );
    expect(existsSync(join(dir, 'b.zip'))).toBe(false);
    expect((await readdir(dir)).filter((name) => name.includes('.part'))).toEqual([]);
  });

  it('rejects a checksum mismatch and leaves no file', async () => {
    await expect(downloadFile(file('c.zip', 'good.zip', '0'.repeat(32)), dir)).rejects.toThrow(
      /MD5 [0-9a-f]{32}, but the release's is 0{32}/,
    );
    expect(existsSync(join(dir, 'c.zip'))).toBe(false);
  });

  it('reports an HTTP error with its status', async () => {
    await expect(downloadFile(file('d.zip', 'missing.zip'), dir)).rejects.toThrow(/HTTP 404/);
    expect(existsSync(join(dir, 'd.zip'))).toBe(false);
  });

  it('does not overwrite a present file even when it differs', async () => {
    await writeFile(join(dir, 'e.zip'), 'local copy');
    expect(await downloadFile(file('e.zip', 'good.zip'), dir)).toBe('present');
    expect(await readFile(join(dir, 'e.zip'), 'utf8')).toBe('local copy');
  });
});
