/**
 * Classification metrics on host arrays: the confusion matrix, per-class
 * precision / recall / F1 (scikit-learn's `classification_report`), and the
 * most confidently wrong predictions.
 *
 * @example
 * ```ts
 * import { classificationReport, confusionMatrix } from "./metrics.ts";
 * const m = confusionMatrix([0, 0, 1, 1], [0, 1, 1, 1], 2);
 * console.log(m); // [[1, 1], [0, 2]]: rows are true classes, columns predictions
 * console.log(classificationReport(m)[1]); // { class: "1", precision: 0.667, recall: 1, f1: 0.8, support: 2 }
 * ```
 *
 * @module
 */

/** Thrown for inconsistent metric inputs (lengths, class ranges). */
export class MetricsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MetricsError";
  }
}

/**
 * `matrix[t][p]` = how many examples of true class `t` were predicted as `p`
 * (`tf.math.confusion_matrix(labels, predictions)`).
 */
export function confusionMatrix(
  labels: ArrayLike<number>,
  predictions: ArrayLike<number>,
  numClasses: number,
): number[][] {
  if (labels.length !== predictions.length) {
    throw new MetricsError(
      `confusionMatrix: ${labels.length} labels but ${predictions.length} predictions; pass one prediction per label`,
    );
  }
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new MetricsError(`confusionMatrix: numClasses is ${numClasses}; use a whole number >= 1`);
  }
  const m = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < labels.length; i++) {
    const t = labels[i];
    const p = predictions[i];
    if (!(t >= 0 && t < numClasses && p >= 0 && p < numClasses) || t % 1 || p % 1) {
      throw new MetricsError(
        `confusionMatrix: example ${i} has label ${t} and prediction ${p}; both must be whole numbers in [0, ${numClasses})`,
      );
    }
    m[t][p]++;
  }
  return m;
}

/** Fraction of correct predictions: the diagonal of the confusion matrix over its total. */
export function accuracyFromMatrix(matrix: number[][]): number {
  let right = 0;
  let all = 0;
  matrix.forEach((row, t) =>
    row.forEach((n, p) => {
      all += n;
      if (t === p) right += n;
    })
  );
  return all ? right / all : NaN;
}

/** One row of {@linkcode classificationReport}. */
export interface ClassMetrics {
  /** Class name, or "macro avg" / "weighted avg". */
  class: string;
  /** Of the examples predicted as this class, the fraction that are (3 decimals). */
  precision: number;
  /** Of the examples of this class, the fraction predicted as it (3 decimals). */
  recall: number;
  /** Harmonic mean of precision and recall (3 decimals). */
  f1: number;
  /** Examples of this class. */
  support: number;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * Precision, recall, F1 and support per class from a confusion matrix, then
 * the macro and support-weighted averages (scikit-learn's
 * `classification_report`). A class never predicted has precision 0.
 */
export function classificationReport(
  matrix: number[][],
  classNames?: readonly string[],
): ClassMetrics[] {
  const n = matrix.length;
  if (matrix.some((row) => row.length !== n)) {
    throw new MetricsError(`classificationReport: the matrix must be square (${n} rows)`);
  }
  if (classNames && classNames.length !== n) {
    throw new MetricsError(
      `classificationReport: ${classNames.length} class names for ${n} classes`,
    );
  }
  const raw = matrix.map((row, c) => {
    const tp = row[c];
    const support = row.reduce((a, b) => a + b, 0);
    const predicted = matrix.reduce((a, r) => a + r[c], 0);
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { class: classNames?.[c] ?? String(c), precision, recall, f1, support };
  });
  const total = raw.reduce((a, r) => a + r.support, 0);
  const avg = (k: "precision" | "recall" | "f1", weighted: boolean): number =>
    raw.reduce((a, r) => a + r[k] * (weighted ? r.support / (total || 1) : 1 / n), 0);
  const rows = [
    ...raw,
    {
      class: "macro avg",
      precision: avg("precision", false),
      recall: avg("recall", false),
      f1: avg("f1", false),
      support: total,
    },
    {
      class: "weighted avg",
      precision: avg("precision", true),
      recall: avg("recall", true),
      f1: avg("f1", true),
      support: total,
    },
  ];
  return rows.map((r) => ({
    ...r,
    precision: round3(r.precision),
    recall: round3(r.recall),
    f1: round3(r.f1),
  }));
}

/** One wrong prediction. */
export interface Mistake {
  /** Index of the example in its dataset. */
  index: number;
  label: number;
  predicted: number;
  /** The probability the model gave its (wrong) prediction. */
  confidence: number;
}

/** The `k` wrong predictions with the highest confidence, most confident first. */
export function confidentMistakes(
  labels: ArrayLike<number>,
  predictions: ArrayLike<number>,
  confidences: ArrayLike<number>,
  k: number,
): Mistake[] {
  if (labels.length !== predictions.length || labels.length !== confidences.length) {
    throw new MetricsError(
      `confidentMistakes: labels (${labels.length}), predictions (${predictions.length}) and confidences (${confidences.length}) must have the same length`,
    );
  }
  const wrong: Mistake[] = [];
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== predictions[i]) {
      wrong.push({
        index: i,
        label: labels[i],
        predicted: predictions[i],
        confidence: confidences[i],
      });
    }
  }
  wrong.sort((a, b) => b.confidence - a.confidence || a.index - b.index);
  return wrong.slice(0, Math.max(0, k));
}
