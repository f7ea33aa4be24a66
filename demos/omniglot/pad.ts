// A drawing pad: a canvas the reader draws on with the mouse or a finger. It
// is read back as a 28x28 image in the layout of the Omniglot loader: row-major,
// ink 1.0 on background 0.0, each pixel the area average of a 4x4 block.

export const SIDE = 28;
const SCALE = 4;
// Omniglot's 105x105 strokes are about 3 pixels wide, which is this width at 112x112.
const LINE_WIDTH = 3.5;

export class Pad {
  readonly canvas: HTMLCanvasElement;
  private readonly context: CanvasRenderingContext2D;
  private drawing = false;
  private inked = false;
  private onChange: () => void;

  constructor(onChange: () => void = () => undefined) {
    this.onChange = onChange;
    this.canvas = document.createElement('canvas');
    this.canvas.width = SIDE * SCALE;
    this.canvas.height = SIDE * SCALE;
    this.canvas.className = 'pad';
    this.context = this.canvas.getContext('2d', { willReadFrequently: true })!;
    this.clear();
    this.canvas.addEventListener('pointerdown', (event) => {
      this.drawing = true;
      this.canvas.setPointerCapture(event.pointerId);
      const [x, y] = this.position(event);
      this.context.beginPath();
      this.context.moveTo(x, y);
      // A tap leaves a dot.
      this.context.lineTo(x + 0.01, y);
      this.context.stroke();
      this.inked = true;
    });
    this.canvas.addEventListener('pointermove', (event) => {
      if (!this.drawing) return;
      const [x, y] = this.position(event);
      this.context.lineTo(x, y);
      this.context.stroke();
    });
    const end = () => {
      if (!this.drawing) return;
      this.drawing = false;
      this.onChange();
    };
    this.canvas.addEventListener('pointerup', end);
    this.canvas.addEventListener('pointercancel', end);
  }

  private position(event: PointerEvent): [number, number] {
    const box = this.canvas.getBoundingClientRect();
    return [
      ((event.clientX - box.left) / box.width) * this.canvas.width,
      ((event.clientY - box.top) / box.height) * this.canvas.height,
    ];
  }

  get isEmpty(): boolean {
    return !this.inked;
  }

  clear(): void {
    this.context.fillStyle = 'white';
    this.context.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.context.strokeStyle = 'black';
    this.context.lineWidth = LINE_WIDTH;
    this.context.lineCap = 'round';
    this.context.lineJoin = 'round';
    this.inked = false;
    this.onChange();
  }

  /** Shows a 28x28 image (ink in [0, 1]), each pixel as a 4x4 block, so `image()` returns it again. */
  show(ink: Float32Array): void {
    const pixels = this.context.createImageData(this.canvas.width, this.canvas.height);
    for (let y = 0; y < this.canvas.height; y++) {
      for (let x = 0; x < this.canvas.width; x++) {
        const value = Math.round(
          255 * (1 - ink[Math.floor(y / SCALE) * SIDE + Math.floor(x / SCALE)]),
        );
        const offset = 4 * (y * this.canvas.width + x);
        pixels.data.set([value, value, value, 255], offset);
      }
    }
    this.context.putImageData(pixels, 0, 0);
    this.inked = true;
    this.onChange();
  }

  /** Returns the drawing as 28x28 ink values: 1 minus the mean brightness of each 4x4 block. */
  image(): Float32Array {
    const { data } = this.context.getImageData(0, 0, this.canvas.width, this.canvas.height);
    const out = new Float32Array(SIDE * SIDE);
    for (let y = 0; y < this.canvas.height; y++) {
      for (let x = 0; x < this.canvas.width; x++) {
        const offset = 4 * (y * this.canvas.width + x);
        const brightness = (data[offset] + data[offset + 1] + data[offset + 2]) / (3 * 255);
        out[Math.floor(y / SCALE) * SIDE + Math.floor(x / SCALE)] +=
          (1 - brightness) / (SCALE * SCALE);
      }
    }
    return out;
  }
}
