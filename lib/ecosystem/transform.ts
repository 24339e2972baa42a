/**
 * TF-Transform-style preprocessing: **analyse** the training set once (a full
 * pass that computes constants such as the pixel mean and standard deviation),
 * then **apply** a transform that has those constants baked in, the same
 * function at training and at serving time.
 *
 * The point is the training/serving skew it prevents. A serving path that
 * normalises each request by its own statistics (or one re-implemented with
 * other constants) feeds the model inputs it never saw in training: a single
 * image "normalised" by its own mean and spread looks nothing like the same
 * image normalised by the training set's. TensorFlow Transform's
 * `tft.scale_to_z_score` computes the mean and variance in an analyse phase
 * (Apache Beam) and exports them as constants of the serving graph.
 *
 * @example
 * ```ts
 * import { analyzeNormalization, normalizationTransform } from "./transform.ts";
 * const train = Uint8Array.from({ length: 4 * 784 }, (_, i) => (i * 7) % 256);
 * const stats = analyzeNormalization(train);
 * const transform = normalizationTransform(stats);
 * const one = transform(train.subarray(0, 784)); // the same constants as in training
 * console.log(stats.mean.toFixed(3), one.length); // 0.498 784
 * ```
 *
 * @module
 */

/** Constants computed by the analyse phase. */
export interface NormalizationStats {
  /** Mean pixel value on the [0, 1] scale. */
  readonly mean: number;
  /** Standard deviation of the pixels on the [0, 1] scale. */
  readonly std: number;
  /** Pixels the statistics were computed from. */
  readonly count: number;
}

/** Data that cannot be analysed or transformed (empty, constant, or not finite). */
export class TransformError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TransformError";
  }
}

const scale = (pixels: Uint8Array | Float32Array): number =>
  pixels instanceof Uint8Array ? 1 / 255 : 1;

/**
 * The analyse phase (`tft.analyzers.mean` / `var`): one pass over the training
 * pixels (bytes 0..255, or floats already on [0, 1]).
 */
export function analyzeNormalization(pixels: Uint8Array | Float32Array): NormalizationStats {
  if (!(pixels instanceof Uint8Array || pixels instanceof Float32Array) || pixels.length === 0) {
    throw new TransformError(
      "analyzeNormalization(pixels): pass a non-empty Uint8Array or Float32Array",
    );
  }
  const k = scale(pixels);
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < pixels.length; i++) {
    const v = pixels[i] * k;
    if (!Number.isFinite(v)) {
      throw new TransformError(
        `analyzeNormalization: pixel ${i} is ${pixels[i]}, not a finite number`,
      );
    }
    sum += v;
    sumSq += v * v;
  }
  const mean = sum / pixels.length;
  const std = Math.sqrt(Math.max(0, sumSq / pixels.length - mean * mean));
  if (!(std > 0)) {
    throw new TransformError(
      "analyzeNormalization: every pixel has the same value (standard deviation 0)",
    );
  }
  return { mean, std, count: pixels.length };
}

/**
 * The transform with the analysed constants baked in (`tft.scale_to_z_score`):
 * `(x − mean) / std` per pixel, for a batch or a single image, at training and
 * at serving time alike.
 */
export function normalizationTransform(
  stats: NormalizationStats,
): (pixels: Uint8Array | Float32Array) => Float32Array {
  if (!(stats?.std > 0) || !Number.isFinite(stats.mean)) {
    throw new TransformError(
      "normalizationTransform(stats): stats must come from analyzeNormalization",
    );
  }
  const { mean, std } = stats;
  return (pixels) => {
    const k = scale(pixels);
    const out = new Float32Array(pixels.length);
    for (let i = 0; i < pixels.length; i++) out[i] = (pixels[i] * k - mean) / std;
    return out;
  };
}

/**
 * What a skewed serving path does: normalise the request by its *own* mean and
 * spread. Shown for contrast; never use it.
 */
export function perRequestNormalization(pixels: Uint8Array | Float32Array): Float32Array {
  return normalizationTransform(analyzeNormalization(pixels))(pixels);
}
