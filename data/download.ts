// Downloads of released dataset files: streamed to a temporary file, checked
// against the published MD5 sum, then renamed into place, so an interrupted or
// corrupt download never leaves a file under the final name.

import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface RemoteFile {
  name: string;
  url: string;
  md5: string;
}

/** Public address of the Omniglot release's Python zips. */
export const OMNIGLOT_BASE_URL = 'https://github.com/brendenlake/omniglot/raw/master/python';

export function omniglotFiles(baseUrl = OMNIGLOT_BASE_URL): RemoteFile[] {
  return [
    {
      name: 'images_background.zip',
      url: `${baseUrl}/images_background.zip`,
      md5: '68d2efa1b9178cc56df9314c21c6e718',
    },
    {
      name: 'images_evaluation.zip',
      url: `${baseUrl}/images_evaluation.zip`,
      md5: '6b91aef0f799c5bb55b94e3f2daec811',
    },
  ];
}

export interface DownloadProgress {
  start(name: string, totalBytes: number | null): void;
  update(receivedBytes: number): void;
  stop(): void;
}

export type DownloadResult = 'downloaded' | 'present';

/** Downloads `file` into `dir` unless a file of that name is already there. */
export async function downloadFile(
  file: RemoteFile,
  dir: string,
  progress?: DownloadProgress,
): Promise<DownloadResult> {
  const target = join(dir, file.name);
  if (existsSync(target)) return 'present';
  await mkdir(dir, { recursive: true });

  const temporary = `${target}.part-${process.pid}`;
  try {
    let response: Response;
    try {
      response = await fetch(file.url);
    } catch (error) {
      throw new Error(
        `Download of ${file.url} failed: ${(error as Error).message}. Check the network connection and try again.`,
      );
    }
    if (!response.ok || !response.body) {
      throw new Error(
        `Download of ${file.url} failed with HTTP ${response.status} ${response.statusText}.`,
      );
    }
    const header = response.headers.get('content-length');
    const expectedBytes = header === null ? null : Number(header);
    progress?.start(file.name, expectedBytes);

    const hash = createHash('md5');
    const out = createWriteStream(temporary);
    let received = 0;
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        hash.update(chunk);
        received += chunk.byteLength;
        if (!out.write(chunk))
          await new Promise<void>((resolve) => out.once('drain', () => resolve()));
        progress?.update(received);
      }
    } catch (error) {
      throw new Error(
        `Download of ${file.url} broke off after ${received} bytes: ${(error as Error).message}. Run the command again.`,
      );
    } finally {
      await new Promise<void>((resolve, reject) =>
        out.end((error?: Error | null) => (error ? reject(error) : resolve())),
      );
      progress?.stop();
    }

    if (expectedBytes !== null && received !== expectedBytes) {
      throw new Error(
        `Download of ${file.url} is truncated: got ${received} of ${expectedBytes} bytes. Run the command again.`,
      );
    }
    const md5 = hash.digest('hex');
    if (md5 !== file.md5) {
      throw new Error(
        `Download of ${file.url} has MD5 ${md5}, but the release's is ${file.md5}; the file was not saved. Run the command again.`,
      );
    }
    await rename(temporary, target);
    return 'downloaded';
  } finally {
    await rm(temporary, { force: true });
  }
}
