// deno-lint-ignore-file no-unused-vars
/**
 * The blank versions of chapter 2's exercises, as the notebook opens them.
 *
 * @module
 */
import { v1 } from "../../mod.ts";

// #region 2.1
export function fetchWithHiddenFed(
  { sess, x, y }: {
    sess: v1.Session;
    x: v1.SymbolicTensor;
    hidden: v1.SymbolicTensor;
    y: v1.SymbolicTensor;
  },
): unknown {
  // TODO: y for hidden = [[1, 2, 3]], without running anything before `hidden`.
  return sess.run(y, new Map([[x, [[1, 2, 3, 4]]]]));
}
// #endregion

// #region 2.2
export function derivative(x: v1.SymbolicTensor): v1.SymbolicTensor | null | undefined {
  // TODO: build y = x² + 3x with v1 ops and return its symbolic gradient with respect to x.
  return undefined;
}
// #endregion

// #region 2.3
export function makePlaceholder(): v1.SymbolicTensor {
  // TODO: this placeholder takes exactly one row; make it take any number of rows of 3.
  return v1.placeholder("float32", [1, 3], "rows");
}
// #endregion
