// Writes demos/assets/omniglot-samples.json: a few characters of Omniglot's
// evaluation alphabets (images_evaluation, never seen by the demo's trained
// embedding), four 28x28 images each, for the Omniglot page's sample episodes
// (up to 3 support images and a query per character).
// Images are resized exactly as data/omniglot.ts does for training (area
// averaging, ink 1 on background 0) and stored as base64 bytes (ink * 255).
//
// Usage: npx tsx demos/scripts/make-omniglot-samples.ts <omniglot folder> [output]

import { writeFile } from 'node:fs/promises';
import { loadOmniglot } from '../../data/omniglot';
import { Rng } from '../../data/rng';

const ALPHABETS = ['Atlantean', 'Glagolitic', 'Mongolian', 'Tengwar'];
const CHARACTERS_PER_ALPHABET = 4;
const IMAGES_PER_CHARACTER = 4;

const [dataDir, output = 'demos/assets/omniglot-samples.json'] = process.argv.slice(2);
if (!dataDir) {
  console.error('usage: npx tsx demos/scripts/make-omniglot-samples.ts <omniglot folder> [output]');
  process.exit(2);
}

const data = await loadOmniglot(dataDir);
const rng = new Rng(11);
const characters = [];
for (const alphabet of ALPHABETS) {
  const candidates = data.characters.filter(
    (c) => c.set === 'images_evaluation' && c.alphabet === alphabet,
  );
  if (candidates.length < CHARACTERS_PER_ALPHABET)
    throw new Error(
      `${dataDir}: images_evaluation has ${candidates.length} characters of ${alphabet}, expected at least ${CHARACTERS_PER_ALPHABET}.`,
    );
  for (const index of rng.sample(candidates.length, CHARACTERS_PER_ALPHABET)) {
    const character = candidates[index];
    const images = rng.sample(character.imageCount, IMAGES_PER_CHARACTER).map((i) => {
      const start = (character.firstImage + i) * data.size * data.size;
      return Buffer.from(data.pixels.subarray(start, start + data.size * data.size)).toString(
        'base64',
      );
    });
    characters.push({ alphabet, character: character.character, images });
  }
}
const contents = {
  source: 'Omniglot images_evaluation (Lake et al. 2015), resized to 28x28 by area averaging',
  size: data.size,
  characters,
};
await writeFile(output, `${JSON.stringify(contents, null, 1)}\n`);
console.error(`wrote ${characters.length} characters to ${output}`);
