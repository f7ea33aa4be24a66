// Per-dispatch GPU timing. While a profile is recording, the runtime opens one
// compute pass per dispatch with timestamp writes at its start and end, and this
// module reads the timestamps back after each batch and sums them by op and
// kernel entry point. With no profile recording, the runtime never calls in here.

import { gpuDevice, hasTimestamps } from './gpu';

/** Time and dispatch count of one op and kernel entry point within a profile. */
export interface ProfileRow {
  /** The op that asked for the dispatches, such as conv2d or conv_transpose2d. */
  op: string;
  /** The kernel and entry point that ran, as `kernel.entry`. */
  kernel: string;
  dispatches: number;
  /** GPU milliseconds summed over the dispatches; null where the device has no timestamp queries. */
  gpuMs: number | null;
}

/** The dispatch counts and GPU times that `profile` records. */
export interface Profile {
  /** One row per op and kernel entry point, longest GPU time first (most dispatches first without timestamps). */
  rows: ProfileRow[];
  /** Rows summed by op alone, in the same order. */
  byOp: ProfileRow[];
  dispatches: number;
  /** GPU milliseconds of every dispatch together; null without timestamp queries. */
  gpuMs: number | null;
  /** Wall-clock milliseconds from the start of the profiled function to the end of its GPU work. */
  wallMs: number;
  /** 'timestamp-query' where the device timed each dispatch; 'counts-only' where it cannot. */
  timing: 'timestamp-query' | 'counts-only';
  /** The rows as an aligned text table, `limit` rows at most. */
  format(limit?: number): string;
}

interface Batch {
  labels: number[];
  querySet: GPUQuerySet | null;
}

class Recorder {
  readonly timed = hasTimestamps();
  readonly keys: string[] = [];
  private readonly keyIndex = new Map<string, number>();
  readonly counts: number[] = [];
  readonly nanos: number[] = [];
  readonly pending: Promise<void>[] = [];
  batch: Batch = { labels: [], querySet: null };

  label(op: string, kernel: string): number {
    const key = `${op}\u0000${kernel}`;
    let index = this.keyIndex.get(key);
    if (index === undefined) {
      index = this.keys.length;
      this.keyIndex.set(key, index);
      this.keys.push(key);
      this.counts.push(0);
      this.nanos.push(0);
    }
    this.counts[index] += 1;
    return index;
  }
}

let recorder: Recorder | null = null;

/** Returns whether a profile is recording; the runtime checks it once per dispatch. */
export function profiling(): boolean {
  return recorder !== null;
}

/**
 * Counts one dispatch and, where the device has timestamp queries, returns the
 * timestamp writes for the compute pass that the runtime opens for it alone.
 */
export function profileDispatch(
  op: string,
  kernel: string,
  capacity: number,
): GPUComputePassTimestampWrites | undefined {
  const rec = recorder!;
  const index = rec.label(op, kernel);
  if (!rec.timed) return undefined;
  const batch = rec.batch;
  batch.querySet ??= gpuDevice().createQuerySet({
    label: 'metagrad profile',
    type: 'timestamp',
    count: 2 * capacity,
  });
  const slot = batch.labels.length;
  batch.labels.push(index);
  return {
    querySet: batch.querySet,
    beginningOfPassWriteIndex: 2 * slot,
    endOfPassWriteIndex: 2 * slot + 1,
  };
}

/**
 * Adds the commands that copy the batch's timestamps into a mappable buffer.
 * The runtime calls it just before it finishes the batch's encoder, and calls
 * the returned function after the submit, to map the buffer and add up the times.
 */
export function profileResolve(encoder: GPUCommandEncoder): (() => void) | null {
  const rec = recorder;
  if (!rec || !rec.batch.querySet) return null;
  const { labels, querySet } = rec.batch;
  rec.batch = { labels: [], querySet: null };
  const bytes = labels.length * 16;
  const device = gpuDevice();
  const resolved = device.createBuffer({
    label: 'metagrad profile resolve',
    size: bytes,
    usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
  });
  const staging = device.createBuffer({
    label: 'metagrad profile readback',
    size: bytes,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  encoder.resolveQuerySet(querySet, 0, 2 * labels.length, resolved, 0);
  encoder.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
  return () => {
    rec.pending.push(
      staging.mapAsync(GPUMapMode.READ).then(() => {
        const stamps = new BigUint64Array(staging.getMappedRange());
        for (let i = 0; i < labels.length; i++) {
          const begin = stamps[2 * i];
          const end = stamps[2 * i + 1];
          // A pair the driver reports out of order counts as zero rather than wrapping.
          if (end > begin) rec.nanos[labels[i]] += Number(end - begin);
        }
        staging.unmap();
        staging.destroy();
        resolved.destroy();
        querySet.destroy();
      }),
    );
  };
}

/** Starts recording; throws if a profile is already recording. */
export function startProfile(): void {
  if (recorder)
    throw new Error(
      'mg.profile: a profile is already recording; profiles do not nest. Await the first one before starting another.',
    );
  recorder = new Recorder();
}

/** Stops recording and returns what was recorded once `flushAndWait` has let every readback finish. */
export async function stopProfile(
  flushAndWait: () => Promise<void>,
  startedAt: number,
): Promise<Profile> {
  const rec = recorder;
  if (!rec) throw new Error('Internal error: stopProfile() without startProfile().');
  try {
    await flushAndWait();
    const wallMs = performance.now() - startedAt;
    await Promise.all(rec.pending);
    return buildProfile(rec, wallMs);
  } finally {
    recorder = null;
  }
}

function buildProfile(rec: Recorder, wallMs: number): Profile {
  const timed = rec.timed;
  const rows: ProfileRow[] = rec.keys.map((key, i) => {
    const [op, kernel] = key.split('\u0000');
    return { op, kernel, dispatches: rec.counts[i], gpuMs: timed ? rec.nanos[i] / 1e6 : null };
  });
  const order = (a: ProfileRow, b: ProfileRow) =>
    (b.gpuMs ?? 0) - (a.gpuMs ?? 0) || b.dispatches - a.dispatches;
  rows.sort(order);
  const ops = new Map<string, ProfileRow>();
  for (const row of rows) {
    const total = ops.get(row.op);
    if (!total) ops.set(row.op, { ...row, kernel: '*' });
    else {
      total.dispatches += row.dispatches;
      if (total.gpuMs !== null && row.gpuMs !== null) total.gpuMs += row.gpuMs;
    }
  }
  const byOp = [...ops.values()].sort(order);
  const dispatches = rows.reduce((s, r) => s + r.dispatches, 0);
  const gpuMs = timed ? rows.reduce((s, r) => s + (r.gpuMs ?? 0), 0) : null;
  return {
    rows,
    byOp,
    dispatches,
    gpuMs,
    wallMs,
    timing: timed ? 'timestamp-query' : 'counts-only',
    format: (limit = 25) => formatRows(rows, gpuMs, limit),
  };
}

function formatRows(rows: ProfileRow[], total: number | null, limit: number): string {
  const lines = ['    GPU ms  share  dispatches  op (kernel.entry)'];
  for (const row of rows.slice(0, limit)) {
    const ms = row.gpuMs === null ? '-' : row.gpuMs.toFixed(1);
    const share = row.gpuMs === null || !total ? '-' : `${((100 * row.gpuMs) / total).toFixed(1)}%`;
    lines.push(
      `${ms.padStart(10)} ${share.padStart(6)} ${String(row.dispatches).padStart(11)}  ${row.op} (${row.kernel})`,
    );
  }
  if (rows.length > limit) lines.push(`  ... ${rows.length - limit} more rows`);
  return lines.join('\n');
}
