/**
 * Data: the IDX file format, the MNIST and Fashion-MNIST loaders and the
 * byte-backed {@linkcode Dataset} that turns them into batches of tensors.
 *
 * @example
 * ```ts
 * import { loadMnist } from "./mod.ts";
 * const { train, test } = await loadMnist({ limit: 1000 });
 * console.log(train.count, test.count, train.classCounts());
 * ```
 *
 * @module
 */
export { encodeIdx, IdxFormatError, readIdx, writeIdx } from "./idx.ts";
export type { IdxData, IdxFault, ReadIdxOptions } from "./idx.ts";
export {
  ChecksumError,
  embeddedMnistDir,
  FASHION_MNIST_CLASS_NAMES,
  FASHION_MNIST_DIR,
  loadFashionMnist,
  loadMnist,
  MNIST_FILES,
  MnistError,
} from "./mnist.ts";
export type { FashionMnistOptions, MnistFault, MnistOptions, MnistResult } from "./mnist.ts";
export { Dataset, DatasetError, IMAGE_SIDE, IMAGE_SIZE, MNIST_CLASS_NAMES } from "./dataset.ts";
export type { Batch, BatchOptions, DatasetOptions } from "./dataset.ts";
