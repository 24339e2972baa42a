/**
 * Nested structures of tensors, as TensorFlow's `tf.nest` sees them: a leaf,
 * or a list or a plain record whose items are nested structures in turn.
 * `GradientTape` takes its targets, sources and `outputGradients` this way
 * ("any nested combination of lists or dictionaries", TF's autodiff guide)
 * and returns gradients in the structure of the sources.
 *
 * @example
 * ```ts
 * import { flattenNest } from "./_nest.ts";
 * const { leaves, paths, pack } = flattenNest([1, { a: 2, b: [3] }], (x) => typeof x === "number");
 * console.log(leaves); // [1, 2, 3]
 * console.log(paths); // ["0", '1."a"', '1."b".0']
 * console.log(pack(["x", "y", "z"])); // ["x", { a: "y", b: ["z"] }]
 * ```
 *
 * @module
 */

/** A nested structure taken apart: its leaves in order, where each was, and how to rebuild it. */
export interface Flattened {
  /** The leaves, depth first, list items in order and record keys in insertion order. */
  leaves: unknown[];
  /** Where each leaf was: `""` for a lone leaf, `1` for a list item, `"k"` for a record key, joined by dots. */
  paths: string[];
  /** The same structure with `values` (one per leaf, in order) in place of the leaves. */
  pack: (values: readonly unknown[]) => unknown;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== "object" || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/**
 * Takes `x` apart: arrays and plain records are walked, anything else for
 * which `isLeaf` holds, or that is neither an array nor a plain record, is a
 * leaf (so a caller can name a wrong leaf by its path).
 */
export function flattenNest(x: unknown, isLeaf: (v: unknown) => boolean): Flattened {
  const leaves: unknown[] = [];
  const paths: string[] = [];
  const walk = (v: unknown, path: string, depth: number): void => {
    if (!isLeaf(v) && depth < 64) {
      const at = (seg: string) => (path === "" ? seg : `${path}.${seg}`);
      if (Array.isArray(v)) return v.forEach((item, i) => walk(item, at(String(i)), depth + 1));
      if (isRecord(v)) {
        for (const k of Object.keys(v)) walk(v[k], at(JSON.stringify(k)), depth + 1);
        return;
      }
    }
    leaves.push(v);
    paths.push(path);
  };
  walk(x, "", 0);
  const pack = (values: readonly unknown[]): unknown => {
    let i = 0;
    const build = (v: unknown, depth: number): unknown => {
      if (!isLeaf(v) && depth < 64) {
        if (Array.isArray(v)) return v.map((item) => build(item, depth + 1));
        if (isRecord(v)) {
          return Object.fromEntries(Object.keys(v).map((k) => [k, build(v[k], depth + 1)]));
        }
      }
      return values[i++];
    };
    return build(x, 0);
  };
  return { leaves, paths, pack };
}
