import assert from "node:assert/strict";
import { encodeIdx, IdxFormatError, readIdx, writeIdx } from "../lib/data/mod.ts";

function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "idx_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function assertIdxError(
  p: Promise<unknown>,
  fault: string,
  messagePart: RegExp,
  file?: string,
): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof IdxFormatError, `expected IdxFormatError, got ${e}`);
    assert.equal(e.fault, fault);
    assert.match(e.message, messagePart);
    if (file) {
      assert.equal(e.file, file);
      assert.ok(e.message.includes(file), `message names the file: ${e.message}`);
    }
    return true;
  });
}

Deno.test("IDX round trip: idx1 and idx3, raw and gzip", async () => {
  await withTempDir(async (dir) => {
    const cases = [
      { name: "labels-idx1-ubyte", dims: [37], data: randomBytes(37, 1).map((b) => b % 10) },
      { name: "images-idx3-ubyte", dims: [5, 28, 28], data: randomBytes(5 * 784, 2) },
      { name: "odd-idx3-ubyte", dims: [3, 4, 7], data: randomBytes(84, 3) },
      { name: "empty-idx1-ubyte", dims: [0], data: new Uint8Array(0) },
    ];
    for (const c of cases) {
      for (const suffix of ["", ".gz"]) {
        const path = `${dir}/${c.name}${suffix}`;
        await writeIdx(path, { dims: c.dims, data: c.data });
        const bytes = await Deno.readFile(path);
        const gz = bytes[0] === 0x1f && bytes[1] === 0x8b;
        assert.equal(gz, suffix === ".gz", `${path}: gzip exactly when the name ends in .gz`);
        if (!gz) {
          // The header: 00 00 08 <ndim>, then big-endian sizes.
          assert.deepEqual([...bytes.subarray(0, 4)], [0, 0, 8, c.dims.length]);
          assert.equal(bytes.length, 4 + 4 * c.dims.length + c.data.length);
        }
        const back = await readIdx(path);
        assert.deepEqual(back.dims, c.dims);
        assert.deepEqual(back.data, c.data);
        // From bytes too.
        const fromBytes = await readIdx(bytes);
        assert.deepEqual(fromBytes.dims, c.dims);
        assert.deepEqual(fromBytes.data, c.data);
      }
    }
    // Only temp-free results are left behind by the atomic writes.
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.equal(names.length, cases.length * 2);
    assert.ok(names.every((n) => !n.endsWith(".tmp")));
  });
});

Deno.test("IDX: gzip is detected by its magic number, not the file name", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(2 * 784, 4);
    await writeIdx(`${dir}/a.gz`, { dims: [2, 28, 28], data });
    await Deno.rename(`${dir}/a.gz`, `${dir}/a-idx3-ubyte`);
    const back = await readIdx(`${dir}/a-idx3-ubyte`);
    assert.deepEqual(back.dims, [2, 28, 28]);
    assert.deepEqual(back.data, data);
  });
});

Deno.test("IDX: big-endian dimensions above 255 are read correctly", async () => {
  const data = randomBytes(70_000, 5);
  const bytes = encodeIdx({ dims: [70_000], data });
  assert.deepEqual([...bytes.subarray(4, 8)], [0x00, 0x01, 0x11, 0x70]);
  const back = await readIdx(bytes);
  assert.deepEqual(back.dims, [70_000]);
  assert.equal(back.data.length, 70_000);
});

Deno.test("IDX: overwriting an existing file replaces it whole", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/x-idx1-ubyte`;
    await writeIdx(path, { dims: [100], data: randomBytes(100, 6) });
    await writeIdx(path, { dims: [3], data: new Uint8Array([7, 8, 9]) });
    const back = await readIdx(path);
    assert.deepEqual(back.dims, [3]);
    assert.deepEqual([...back.data], [7, 8, 9]);
  });
});

Deno.test("IDX errors: wrong magic, unsupported dtype, truncated, trailing bytes", async () => {
  await withTempDir(async (dir) => {
    const good = encodeIdx({ dims: [2, 28, 28], data: randomBytes(2 * 784, 7) });
    const write = (name: string, bytes: Uint8Array) => {
      const p = `${dir}/${name}`;
      Deno.writeFileSync(p, bytes);
      return p;
    };

    const png = write("magic", new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 1, 2]));
    await assertIdxError(readIdx(png), "magic", /wrong magic number 89 50 4e 47/, png);

    const floats = good.slice();
    floats[2] = 0x0d;
    const f = write("dtype", floats);
    await assertIdxError(readIdx(f), "dtype", /32-bit float.*only unsigned-byte/, f);
    floats[2] = 0x42;
    const u = write("dtype2", floats);
    await assertIdxError(readIdx(u), "dtype", /unknown type 0x42/, u);

    const short = write("short", good.subarray(0, 3));
    await assertIdxError(readIdx(short), "truncated", /only 3 bytes/, short);

    const header = write("header", good.subarray(0, 10));
    await assertIdxError(readIdx(header), "truncated", /truncated header/, header);

    const data = write("data", good.subarray(0, good.length - 1));
    await assertIdxError(
      readIdx(data),
      "truncated",
      /truncated data: dimensions \[2, 28, 28\] need 1568 bytes.*has 1567/,
      data,
    );

    const extra = new Uint8Array(good.length + 5);
    extra.set(good);
    const trailing = write("trailing", extra);
    await assertIdxError(readIdx(trailing), "trailing", /5 unexpected bytes/, trailing);

    const zeroDims = write("zero", new Uint8Array([0, 0, 8, 0]));
    await assertIdxError(readIdx(zeroDims), "shape", /0 dimensions/, zeroDims);

    // In-memory bytes are named by the `name` option.
    await assertIdxError(
      readIdx(good.subarray(0, 20), { name: "mem.idx" }),
      "truncated",
      /truncated data/,
      "mem.idx",
    );
  });
});

Deno.test("IDX errors: corrupt and truncated gzip", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/img-idx3-ubyte.gz`;
    await writeIdx(path, { dims: [4, 28, 28], data: randomBytes(4 * 784, 8) });
    const gz = await Deno.readFile(path);

    const cut = `${dir}/cut.gz`;
    await Deno.writeFile(cut, gz.subarray(0, Math.floor(gz.length / 2)));
    await assertIdxError(readIdx(cut), "gzip", /corrupt gzip data/, cut);

    // Flip a byte of the stored CRC-32 (the gzip trailer's first 4 bytes).
    const flipped = gz.slice();
    flipped[flipped.length - 8] ^= 0xff;
    const bad = `${dir}/crc.gz`;
    await Deno.writeFile(bad, flipped);
    await assertIdxError(readIdx(bad), "gzip", /corrupt gzip data/, bad);

    // A gzip magic followed by garbage.
    const junk = `${dir}/junk.gz`;
    await Deno.writeFile(junk, new Uint8Array([0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    await assertIdxError(readIdx(junk), "gzip", /corrupt gzip data/, junk);
  });
});

Deno.test("IDX errors: missing file, and a path that is not a file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/nope-idx1-ubyte`;
    await assertIdxError(readIdx(path), "missing", /no such file/, path);
    await assertIdxError(readIdx(dir), "unreadable", /cannot be read/, dir);
  });
});

Deno.test("writeIdx: bad dims or data throw and write nothing", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bad-idx3-ubyte.gz`;
    await assertIdxError(
      writeIdx(path, { dims: [2, 28, 28], data: new Uint8Array(100) }),
      "shape",
      /hold 1568 values but data has 100/,
      path,
    );
    await assertIdxError(
      writeIdx(path, { dims: [2.5], data: new Uint8Array(2) }),
      "shape",
      /non-negative 32-bit integers/,
      path,
    );
    await assertIdxError(
      writeIdx(path, { dims: [], data: new Uint8Array(0) }),
      "shape",
      /1 to 255 sizes/,
      path,
    );
    await assertIdxError(
      writeIdx(path, { dims: [2], data: new Float32Array(2) as unknown as Uint8Array }),
      "dtype",
      /Uint8Array/,
      path,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing was written");
  });
});

Deno.test("writeIdx: a failed write leaves neither the file nor a temp file", async () => {
  await withTempDir(async (dir) => {
    // The target is an existing directory: the rename fails after the temp file is written.
    const target = `${dir}/taken`;
    await Deno.mkdir(target);
    await Deno.writeFile(`${target}/keep`, new Uint8Array([1]));
    await assert.rejects(writeIdx(target, { dims: [1], data: new Uint8Array([1]) }));
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(names, ["taken"], "no temp file left behind");
    assert.deepEqual(await Deno.readFile(`${target}/keep`), new Uint8Array([1]));
  });
});

/**
 * A gzip bomb: a hand-written DEFLATE stream (one fixed-Huffman block) whose
 * output starts with an IDX header declaring [1, 28, 28] (784 bytes) and goes on
 * with `zeros` zero bytes, each 258 of them costing 13 bits. The trailer's CRC is
 * not computed: a reader that stops at the declared size never gets there.
 */
function gzipBomb(zeros: number): Uint8Array {
  const out = new Uint8Array(Math.ceil((zeros / 258) * 13 / 8) + 1024);
  let pos = 10, acc = 0, bits = 0;
  out.set([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
  const put = (value: number, n: number) => { // LSB first
    acc |= value << bits;
    bits += n;
    while (bits >= 8) {
      out[pos++] = acc & 0xff;
      acc >>>= 8;
      bits -= 8;
    }
  };
  const code = (c: number, n: number) => { // Huffman codes go MSB first
    let r = 0;
    for (let i = 0; i < n; i++) r |= ((c >> i) & 1) << (n - 1 - i);
    put(r, n);
  };
  put(1, 1); // BFINAL
  put(1, 2); // fixed Huffman
  const header = [0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28, 0];
  for (const b of header) code(0x30 + b, 8); // literals 0..143: 8 bits
  for (let left = zeros; left >= 258; left -= 258) {
    code(0xc5, 8); // length 258 (symbol 285)
    code(0, 5); // distance 1
  }
  code(0, 7); // end of block
  if (bits > 0) put(0, 8 - bits);
  return out.subarray(0, pos + 8); // + a trailer of zeros (wrong CRC)
}

Deno.test("IDX gzip is streamed: a bomb declaring 784 bytes fails after 785, in little memory", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bomb-idx3-ubyte.gz`;
    const bomb = gzipBomb(700_000_000); // about 4.4 MB, inflating to 700 MB
    await Deno.writeFile(path, bomb);
    const rss = Deno.memoryUsage().rss;
    await assertIdxError(
      readIdx(path),
      "trailing",
      /unexpected bytes after the data of dimensions \[1, 28, 28\]/,
      path,
    );
    await assertIdxError(
      readIdx(bomb, { name: "mem.gz" }),
      "trailing",
      /unexpected bytes/,
      "mem.gz",
    );
    assert.ok(Deno.memoryUsage().rss - rss < 100e6, "the bomb was not inflated");
  });
});

Deno.test("IDX: a FIFO, a symlink loop or a device is refused with a typed error, without blocking", async () => {
  await withTempDir(async (dir) => {
    const fifo = `${dir}/pipe-idx1-ubyte`;
    assert.equal((await new Deno.Command("mkfifo", { args: [fifo] }).output()).code, 0);
    await assertIdxError(
      readIdx(fifo),
      "unreadable",
      /FIFO \(named pipe\), not a regular file/,
      fifo,
    );
    const loop = `${dir}/loop`;
    await Deno.symlink(loop, loop);
    await assertIdxError(readIdx(loop), "unreadable", /symlink loop/, loop);
    await assertIdxError(
      readIdx("/dev/zero"),
      "unreadable",
      /a device, not a regular file/,
      "/dev/zero",
    );
  });
});

Deno.test("writeIdx into a missing folder names the file, not its temporary", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/absent/x-idx1-ubyte`;
    await assert.rejects(writeIdx(path, { dims: [1], data: new Uint8Array([1]) }), (e: unknown) => {
      assert.ok(e instanceof IdxFormatError, String(e));
      assert.equal(e.fault, "unwritable");
      assert.equal(e.file, path);
      assert.match(e.message, /the folder .*absent does not exist/);
      assert.doesNotMatch(e.message, /\.tmp/);
      return true;
    });
  });
});
