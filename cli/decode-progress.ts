// The progress bar shown while a dataset's images are decoded for the first time.

import { Presets, SingleBar } from 'cli-progress';

/** Returns a decode-progress callback that logs `heading(total)` once and then draws a bar. */
export function decodeProgress(
  log: (line: string) => void,
  heading: (total: number) => string,
): (done: number, total: number) => void {
  let bar: SingleBar | null = null;
  return (done, total) => {
    if (!bar) {
      log(heading(total));
      bar = new SingleBar(
        { format: '  decoding [{bar}] {value}/{total} images', hideCursor: true },
        Presets.shades_classic,
      );
      bar.start(total, 0);
    }
    bar.update(done);
    if (done === total) bar.stop();
  };
}
