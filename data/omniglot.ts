// Omniglot from its official release: images_background and images_evaluation,
// each as the official zip or as an extracted folder of
// <Alphabet>/characterNN/NNNN_DD.png (105x105, 1-bit). Images are resized to
// size x size by area averaging, with ink = 1 and background = 0, and cached in
// a binary file so a second load takes seconds.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat, writeFile, access } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { unzipSync } from 'fflate';
import { PNG } from 'pngjs';

export const OMNIGLOT_SETS = ['images_background', 'images_evaluation'] as const;

/** A data folder that is missing, is not a folder or lacks readable Omniglot sets; the user fixes it by pointing at the data. */
export class OmniglotDataError extends Error {
  override name = 'OmniglotDataError';
}
export type OmniglotSet = (typeof OMNIGLOT_SETS)[number];

export interface OmniglotCharacter {
  set: OmniglotSet;
  alphabet: string;
  /** Folder name, e.g. character07. */
  character: string;
  /** Index of the character's first image in `pixels`, in units of one image. */
  firstImage: number;
  imageCount: number;
}

export interface OmniglotData {
  /** Side of the square images. */
  size: number;
  characters: OmniglotCharacter[];
  /** All images, size*size bytes each, ink 255 and background 0; scale by 1/255. */
  pixels: Uint8Array;
  /** Folder the data was read from. */
  source: string;
}

export interface LoadOptions {
  /** Side of the resized images; 28 as in the MAML and ProtoNet papers. */
  size?: number;
  /** Folder for the decoded cache; default: beside the data when writable, else the user cache. */
  cacheDir?: string;
  /** Skip the cache entirely. */
  noCache?: boolean;
  onProgress?: (done: number, total: number) => void;
}

const CACHE_MAGIC = 'MGOMNI01';
const SOURCE_SIDE = 105;

interface RawImage {
  set: OmniglotSet;
  alphabet: string;
  character: string;
  file: string;
  bytes: Uint8Array;
}

/** Returns the default data folder: $METAGRAD_DATA, else a metagrad folder in the user's cache directory. */
export function defaultDataDir(): string {
  if (process.env.METAGRAD_DATA) return resolve(process.env.METAGRAD_DATA);
  const cacheRoot = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  return join(cacheRoot, 'metagrad');
}

async function sourceOf(
  dataDir: string,
  set: OmniglotSet,
): Promise<{ kind: 'zip' | 'folder'; path: string }> {
  const zip = join(dataDir, `${set}.zip`);
  const folder = join(dataDir, set);
  if (existsSync(folder) && (await stat(folder)).isDirectory())
    return { kind: 'folder', path: folder };
  if (existsSync(zip)) return { kind: 'zip', path: zip };
  throw new OmniglotDataError(
    `Omniglot: neither ${zip} nor the folder ${folder} exists. ` +
      `Download the data with \`metagrad data omniglot --data-dir ${dataDir}\`, or point --data-dir (or METAGRAD_DATA) at a folder that has them.`,
  );
}

/** Returns a key that changes whenever a source file or folder changes. */
async function sourceKey(sources: { kind: string; path: string }[], size: number): Promise<string> {
  const hash = createHash('sha256');
  hash.update(`${CACHE_MAGIC}|${size}`);
  for (const source of sources) {
    if (source.kind === 'zip') {
      const info = await stat(source.path);
      hash.update(`|zip:${resolve(source.path)}:${info.size}:${info.mtimeMs}`);
    } else {
      // Every file's name, size and time, so an edited or added image invalidates the cache.
      const entries = await readdir(source.path, { recursive: true, withFileTypes: true });
      const files = entries
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath, e.name))
        .sort();
      hash.update(`|folder:${resolve(source.path)}:${files.length}`);
      for (const file of files) {
        const info = await stat(file);
        hash.update(`|${file}:${info.size}:${info.mtimeMs}`);
      }
    }
  }
  return hash.digest('hex');
}

function parsePath(
  set: OmniglotSet,
  relative: string,
): { alphabet: string; character: string; file: string } | null {
  const parts = relative.split('/').filter((p) => p.length > 0);
  if (parts[0] === set) parts.shift();
  if (parts.length !== 3 || !parts[2].endsWith('.png')) return null;
  return { alphabet: parts[0], character: parts[1], file: parts[2] };
}

async function readSet(
  set: OmniglotSet,
  source: { kind: 'zip' | 'folder'; path: string },
): Promise<RawImage[]> {
  const images: RawImage[] = [];
  if (source.kind === 'zip') {
    let files: Record<string, Uint8Array>;
    try {
      files = unzipSync(new Uint8Array(await readFile(source.path)), {
        filter: (file) => file.name.endsWith('.png'),
      });
    } catch (error) {
      throw new OmniglotDataError(
        `Omniglot: ${source.path} is not a readable zip file (${(error as Error).message}); download it again.`,
      );
    }
    for (const [name, bytes] of Object.entries(files)) {
      const parsed = parsePath(set, name);
      if (parsed) images.push({ set, ...parsed, bytes });
    }
  } else {
    const entries = await readdir(source.path, { recursive: true, withFileTypes: true });
    for (const entry of entries) {
      if (!entry.isFile() || !entry.name.endsWith('.png')) continue;
      const full = join(entry.parentPath, entry.name);
      const parsed = parsePath(
        set,
        full
          .slice(source.path.length + 1)
          .split('\\')
          .join('/'),
      );
      if (parsed) images.push({ set, ...parsed, bytes: new Uint8Array(await readFile(full)) });
    }
  }
  if (images.length === 0)
    throw new OmniglotDataError(
      `Omniglot: found no <Alphabet>/characterNN/*.png images in ${source.path}.`,
    );
  return images;
}

/**
 * Area-averaging weights from `from` samples to `to`: weights[o] lists
 * (input index, overlap / scale) for output o, where scale = from / to.
 */
export function areaWeights(from: number, to: number): [number, number][][] {
  const scale = from / to;
  return Array.from({ length: to }, (_, o) => {
    const start = o * scale;
    const end = start + scale;
    const list: [number, number][] = [];
    for (let i = Math.floor(start); i < Math.min(Math.ceil(end), from); i++) {
      const overlap = Math.min(end, i + 1) - Math.max(start, i);
      if (overlap > 1e-9) list.push([i, overlap / scale]);
    }
    return list;
  });
}

/** Decodes one Omniglot PNG and resizes it, returning ink coverage in [0, 1]. */
export function decodeImage(bytes: Uint8Array, size: number, name = 'image'): Float32Array {
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(bytes));
  } catch (error) {
    throw new Error(`Omniglot: ${name} is not a valid PNG (${(error as Error).message}).`);
  }
  if (png.width !== SOURCE_SIDE || png.height !== SOURCE_SIDE) {
    throw new Error(
      `Omniglot: ${name} is ${png.width}x${png.height}; Omniglot images are ${SOURCE_SIDE}x${SOURCE_SIDE}.`,
    );
  }
  // Ink is black (0) on white: ink = 1 - red / 255.
  const ink = new Float32Array(SOURCE_SIDE * SOURCE_SIDE);
  for (let i = 0; i < ink.length; i++) ink[i] = 1 - png.data[4 * i] / 255;

  const weights = areaWeights(SOURCE_SIDE, size);
  const rows = new Float32Array(size * SOURCE_SIDE);
  for (let o = 0; o < size; o++) {
    for (const [i, w] of weights[o]) {
      for (let x = 0; x < SOURCE_SIDE; x++)
        rows[o * SOURCE_SIDE + x] += w * ink[i * SOURCE_SIDE + x];
    }
  }
  const out = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let o = 0; o < size; o++) {
      let total = 0;
      for (const [i, w] of weights[o]) total += w * rows[y * SOURCE_SIDE + i];
      out[y * size + o] = total;
    }
  }
  return out;
}

async function writable(dir: string): Promise<boolean> {
  try {
    await access(dir, fsConstants.W_OK);
    return true;
  } catch {
    return false;
  }
}

async function cachePath(
  dataDir: string,
  options: LoadOptions,
  key: string,
  size: number,
): Promise<string> {
  const name = `omniglot-${size}-${key.slice(0, 16)}.mgcache`;
  if (options.cacheDir) return join(options.cacheDir, name);
  if (await writable(dataDir)) return join(dataDir, name);
  return join(defaultDataDir(), 'cache', name);
}

function encodeCache(data: OmniglotData, key: string): Uint8Array {
  const header = new TextEncoder().encode(
    JSON.stringify({ key, size: data.size, characters: data.characters }),
  );
  const out = new Uint8Array(8 + 4 + header.length + data.pixels.length);
  out.set(new TextEncoder().encode(CACHE_MAGIC), 0);
  new DataView(out.buffer).setUint32(8, header.length, true);
  out.set(header, 12);
  out.set(data.pixels, 12 + header.length);
  return out;
}

function decodeCache(bytes: Uint8Array, key: string, source: string): OmniglotData | null {
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== CACHE_MAGIC)
    return null;
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  if (12 + headerLength > bytes.length) return null;
  try {
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength))) as {
      key: string;
      size: number;
      characters: OmniglotCharacter[];
    };
    const pixels = bytes.slice(12 + headerLength);
    const images = header.characters.reduce((n, c) => n + c.imageCount, 0);
    if (header.key !== key || pixels.length !== images * header.size * header.size) return null;
    return { size: header.size, characters: header.characters, pixels, source };
  } catch {
    return null;
  }
}

/**
 * Loads both Omniglot sets from `dataDir` (zips or extracted folders), decoded
 * and resized, from the cache when it matches the sources.
 */
export async function loadOmniglot(
  dataDir: string,
  options: LoadOptions = {},
): Promise<OmniglotData> {
  const size = options.size ?? 28;
  if (!Number.isInteger(size) || size < 1 || size > SOURCE_SIDE) {
    throw new Error(
      `Omniglot: image size ${size} is invalid; use an integer in [1, ${SOURCE_SIDE}].`,
    );
  }
  if (!existsSync(dataDir)) {
    throw new OmniglotDataError(
      `Omniglot: the data folder ${dataDir} does not exist. Download the data with \`metagrad data omniglot --data-dir ${dataDir}\`, or pass --data-dir with the folder that holds it.`,
    );
  }
  if (!(await stat(dataDir)).isDirectory()) {
    throw new OmniglotDataError(
      `Omniglot: the data folder ${dataDir} is a file; point --data-dir (or METAGRAD_DATA) at the folder that holds images_background and images_evaluation.`,
    );
  }
  const sources = await Promise.all(OMNIGLOT_SETS.map((set) => sourceOf(dataDir, set)));
  const key = await sourceKey(sources, size);
  const cacheFile = options.noCache ? null : await cachePath(dataDir, options, key, size);
  if (cacheFile && existsSync(cacheFile)) {
    const cached = decodeCache(new Uint8Array(await readFile(cacheFile)), key, dataDir);
    if (cached) return cached;
  }

  const raw = (await Promise.all(OMNIGLOT_SETS.map((set, i) => readSet(set, sources[i])))).flat();
  raw.sort((a, b) =>
    a.set !== b.set
      ? a.set.localeCompare(b.set)
      : a.alphabet !== b.alphabet
        ? a.alphabet.localeCompare(b.alphabet)
        : a.character !== b.character
          ? a.character.localeCompare(b.character)
          : a.file.localeCompare(b.file),
  );

  const pixels = new Uint8Array(raw.length * size * size);
  const characters: OmniglotCharacter[] = [];
  raw.forEach((image, index) => {
    const last = characters[characters.length - 1];
    if (
      last &&
      last.set === image.set &&
      last.alphabet === image.alphabet &&
      last.character === image.character
    ) {
      last.imageCount += 1;
    } else {
      characters.push({
        set: image.set,
        alphabet: image.alphabet,
        character: image.character,
        firstImage: index,
        imageCount: 1,
      });
    }
    const name = `${image.set}/${image.alphabet}/${image.character}/${image.file}`;
    const resized = decodeImage(image.bytes, size, name);
    for (let i = 0; i < resized.length; i++)
      pixels[index * size * size + i] = Math.round(resized[i] * 255);
    if (options.onProgress && (index % 500 === 0 || index === raw.length - 1))
      options.onProgress(index + 1, raw.length);
  });
  const data: OmniglotData = { size, characters, pixels, source: dataDir };

  if (cacheFile) {
    // Written under a temporary name and renamed, so a crash never leaves a partial cache.
    await mkdir(join(cacheFile, '..'), { recursive: true });
    const temporary = `${cacheFile}.tmp-${process.pid}`;
    await writeFile(temporary, encodeCache(data, key));
    await rename(temporary, cacheFile);
  }
  return data;
}
