// A small line and scatter plot on a canvas, so the pages need no chart library.

export interface Series {
  points: [number, number][];
  color: string;
  /** Draw dots instead of a line. */
  markers?: boolean;
  dash?: number[];
  width?: number;
}

export interface PlotOptions {
  x: [number, number];
  y: [number, number];
  series: Series[];
  /** Log scale on the y axis (loss curves); every y must then be positive. */
  logY?: boolean;
}

const MARGIN = { left: 44, right: 10, top: 10, bottom: 24 };

/** Maps data coordinates to canvas pixels and back for a plot drawn with `options`. */
export function plotScale(canvas: HTMLCanvasElement, options: PlotOptions) {
  const width = canvas.width - MARGIN.left - MARGIN.right;
  const height = canvas.height - MARGIN.top - MARGIN.bottom;
  const ty = (y: number) => (options.logY ? Math.log10(Math.max(y, 1e-12)) : y);
  const [y0, y1] = [ty(options.y[0]), ty(options.y[1])];
  return {
    toPixel: (x: number, y: number): [number, number] => [
      MARGIN.left + ((x - options.x[0]) / (options.x[1] - options.x[0])) * width,
      MARGIN.top + (1 - (ty(y) - y0) / (y1 - y0)) * height,
    ],
    fromPixel: (px: number, py: number): [number, number] => [
      options.x[0] + ((px - MARGIN.left) / width) * (options.x[1] - options.x[0]),
      y0 + (1 - (py - MARGIN.top) / height) * (y1 - y0),
    ],
  };
}

function ticks(low: number, high: number, count: number): number[] {
  const step = (high - low) / count;
  return Array.from({ length: count + 1 }, (_, i) => low + i * step);
}

function label(value: number): string {
  return Math.abs(value) >= 100 || Number.isInteger(value) ? value.toFixed(0) : value.toFixed(1);
}

export function drawPlot(canvas: HTMLCanvasElement, options: PlotOptions): void {
  const context = canvas.getContext('2d')!;
  const { toPixel } = plotScale(canvas, options);
  context.clearRect(0, 0, canvas.width, canvas.height);
  context.fillStyle = 'white';
  context.fillRect(0, 0, canvas.width, canvas.height);

  // Axes, grid and tick labels.
  context.strokeStyle = '#e5e7eb';
  context.fillStyle = '#4b5563';
  context.font = '11px system-ui, sans-serif';
  context.lineWidth = 1;
  for (const x of ticks(options.x[0], options.x[1], 5)) {
    const [px] = toPixel(x, options.y[0]);
    context.beginPath();
    context.moveTo(px, MARGIN.top);
    context.lineTo(px, canvas.height - MARGIN.bottom);
    context.stroke();
    context.textAlign = 'center';
    context.fillText(label(x), px, canvas.height - 8);
  }
  const yTicks = options.logY
    ? ticks(Math.log10(options.y[0]), Math.log10(options.y[1]), 4).map((v) => 10 ** v)
    : ticks(options.y[0], options.y[1], 4);
  for (const y of yTicks) {
    const [, py] = toPixel(options.x[0], y);
    context.beginPath();
    context.moveTo(MARGIN.left, py);
    context.lineTo(canvas.width - MARGIN.right, py);
    context.stroke();
    context.textAlign = 'right';
    context.fillText(options.logY ? y.toPrecision(2) : label(y), MARGIN.left - 4, py + 4);
  }

  context.save();
  context.beginPath();
  context.rect(MARGIN.left, MARGIN.top, canvas.width - MARGIN.left - MARGIN.right, canvas.height);
  context.clip();
  for (const series of options.series) {
    context.strokeStyle = series.color;
    context.fillStyle = series.color;
    context.lineWidth = series.width ?? 2;
    context.setLineDash(series.dash ?? []);
    if (series.markers) {
      for (const [x, y] of series.points) {
        const [px, py] = toPixel(x, y);
        context.beginPath();
        context.arc(px, py, 5, 0, 2 * Math.PI);
        context.fill();
      }
      continue;
    }
    context.beginPath();
    series.points.forEach(([x, y], i) => {
      const [px, py] = toPixel(x, y);
      if (i === 0) context.moveTo(px, py);
      else context.lineTo(px, py);
    });
    context.stroke();
  }
  context.restore();
  context.setLineDash([]);
}
