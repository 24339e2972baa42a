/**
 * The all-reduce of {@linkcode MirroredStrategy}, in shared memory.
 *
 * Every replica writes its gradient into its own slot of one
 * `SharedArrayBuffer`, waits at a barrier until all slots are written, and
 * then sums the slots itself, in replica order, so every replica computes the
 * bitwise-same sum without a round trip through the main thread. Two sets of
 * slots alternate by step: a fast replica writing step s+1 cannot overwrite
 * what a slow one is still reading of step s, because it cannot pass step
 * s+1's barrier before the slow one arrives there.
 *
 * A replica that fails (or the main thread, when one does) sets the abort
 * flag, which wakes everyone waiting: nobody hangs at a barrier that can no
 * longer complete.
 *
 * @module
 */

/** The shared buffers, sent to each replica once at start-up. */
export interface AllReduceBuffers {
  /** 2 parities × replicas × size float32 slots. */
  slots: SharedArrayBuffer;
  /** Int32: [arrived, generation, aborted]. */
  control: SharedArrayBuffer;
  replicas: number;
  size: number;
}

const ARRIVED = 0, GENERATION = 1, ABORTED = 2;

/** Thrown in a replica when another replica failed during an all-reduce. */
export class AllReduceAborted extends Error {
  constructor() {
    super("another replica failed during the all-reduce");
    this.name = "AllReduceAborted";
  }
}

/** Allocate the buffers for `replicas` replicas of `size` parameters. */
export function allReduceBuffers(replicas: number, size: number): AllReduceBuffers {
  return {
    slots: new SharedArrayBuffer(2 * replicas * size * 4),
    control: new SharedArrayBuffer(3 * 4),
    replicas,
    size,
  };
}

/** Wake every replica waiting in the all-reduce and make them throw. */
export function abortAllReduce(buffers: AllReduceBuffers): void {
  const control = new Int32Array(buffers.control);
  Atomics.store(control, ABORTED, 1);
  Atomics.add(control, GENERATION, 1);
  Atomics.notify(control, GENERATION);
}

/**
 * Replica `index`'s side: a function from its gradient to the sum over
 * replicas. The sum is written to the same array each call: use it before the
 * next call.
 */
export function allReducer(
  buffers: AllReduceBuffers,
  index: number,
): (flat: Float32Array) => Float32Array {
  const { replicas: R, size } = buffers;
  const control = new Int32Array(buffers.control);
  const slot = (parity: number, r: number) =>
    new Float32Array(buffers.slots, ((parity * R) + r) * size * 4, size);
  let step = 0;
  // One array for every step's sum (the caller uses it before the next step).
  const sum = new Float32Array(size);
  const barrier = () => {
    const generation = Atomics.load(control, GENERATION);
    if (Atomics.add(control, ARRIVED, 1) === R - 1) {
      Atomics.store(control, ARRIVED, 0);
      Atomics.add(control, GENERATION, 1);
      Atomics.notify(control, GENERATION);
    } else {
      while (Atomics.load(control, GENERATION) === generation && !Atomics.load(control, ABORTED)) {
        Atomics.wait(control, GENERATION, generation, 1000);
      }
    }
    if (Atomics.load(control, ABORTED)) throw new AllReduceAborted();
  };
  return (flat) => {
    if (flat.length !== size) {
      throw new RangeError(`all-reduce: gradient has ${flat.length} values, expected ${size}`);
    }
    const parity = step++ % 2;
    slot(parity, index).set(flat);
    barrier();
    // Sum in replica order, rounding to float32 after each addition.
    sum.set(slot(parity, 0));
    for (let r = 1; r < R; r++) {
      const s = slot(parity, r);
      for (let i = 0; i < size; i++) sum[i] += s[i];
    }
    return sum;
  };
}
