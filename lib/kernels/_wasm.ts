/**
 * A tiny WebAssembly assembler for SIMD loops that run on tfjs's own WASM heap.
 *
 * Some kernels are one pass over a few float32 arrays, where JavaScript's
 * float64 division and square root cost more than the whole stock op chain.
 * Those loops are written here as WebAssembly instructions (128-bit SIMD) and
 * the module imports the WASM backend's `WebAssembly.Memory`, so it reads and
 * writes tensors in place: pointers are the byte offsets tfjs already keeps.
 * No toolchain and no binary file: the bytes are built from this description
 * at start-up (a few hundred bytes, compiled in well under a millisecond).
 *
 * A function is its parameter types, extra locals and body; the body is a
 * flat list of bytes built with {@linkcode op} and {@linkcode simd}.
 *
 * With tfjs's threaded build the heap is a shared memory (`SharedArrayBuffer`):
 * {@linkcode instantiate} then declares the import shared, as WebAssembly requires.
 *
 * @module
 */

/** Value types. */
export const I32 = 0x7f, F32 = 0x7d, V128 = 0x7b;

/** Unsigned LEB128, as WebAssembly encodes counts, indices and offsets. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

/** Signed LEB128 (for `i32.const`). */
function sleb(n: number): number[] {
  const out: number[] = [];
  while (true) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(byte & 0x40)) || (n === -1 && (byte & 0x40))) return [...out, byte];
    out.push(byte | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const str = (s: string): number[] => vec([...new TextEncoder().encode(s)].map((b) => [b]));
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

/** Core instructions used by the kernels. */
export const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (depth: number): number[] => [0x0c, ...uleb(depth)],
  brIf: (depth: number): number[] => [0x0d, ...uleb(depth)],
  get: (local: number): number[] => [0x20, ...uleb(local)],
  set: (local: number): number[] => [0x21, ...uleb(local)],
  tee: (local: number): number[] => [0x22, ...uleb(local)],
  i32: (value: number): number[] => [0x41, ...sleb(value)],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Mul: [0x6c],
  i32Eqz: [0x45],
  i32LtU: [0x49],
  f32Load: (offset = 0): number[] => [0x2a, 2, ...uleb(offset)],
  f32Store: (offset = 0): number[] => [0x38, 2, ...uleb(offset)],
  f32: (value: number): number[] => [0x43, ...new Uint8Array(new Float32Array([value]).buffer)],
  i32GeU: [0x4f],
  i32Eq: [0x46],
  i32And: [0x71],
  i32ShrU: [0x76],
  i32Ne: [0x47],
  i32DivU: [0x6e],
  i32RemU: [0x70],
  /** `call` the module's function number `index` (its place in {@linkcode assemble}'s list). */
  call: (index: number): number[] => [0x10, ...uleb(index)],
  /** `memory.fill` (bulk memory): n bytes at d set to the low byte of v; takes d, v, n. */
  memoryFill: [0xfc, ...uleb(11), 0x00],
  /** `memory.copy` (bulk memory): n bytes from s to d; takes d, s, n. */
  memoryCopy: [0xfc, ...uleb(10), 0x00, 0x00],
};

/** SIMD instructions (prefix 0xfd); loads and stores take a byte offset. */
export const simd = {
  load: (offset = 0): number[] => [0xfd, ...uleb(0), 0, ...uleb(offset)],
  store: (offset = 0): number[] => [0xfd, ...uleb(11), 0, ...uleb(offset)],
  /** `v128.load32_splat`: one float32 from memory into all four lanes. */
  load32Splat: (offset = 0): number[] => [0xfd, ...uleb(9), 2, ...uleb(offset)],
  /** `v128.const 0`. */
  zero: [0xfd, ...uleb(12), ...new Array(16).fill(0)],
  /** `v128.const` with `value` in all four float32 lanes. */
  f32Splat: (value: number): number[] => [
    0xfd,
    ...uleb(12),
    ...new Uint8Array(new Float32Array([value, value, value, value]).buffer),
  ],
  splat: [0xfd, ...uleb(19)],
  gt: [0xfd, ...uleb(68)],
  and: [0xfd, ...uleb(78)],
  andNot: [0xfd, ...uleb(79)],
  or: [0xfd, ...uleb(80)],
  bitselect: [0xfd, ...uleb(82)],
  sqrt: [0xfd, ...uleb(227)],
  add: [0xfd, ...uleb(228)],
  sub: [0xfd, ...uleb(229)],
  mul: [0xfd, ...uleb(230)],
  div: [0xfd, ...uleb(231)],
  /** `f32x4.max`: NaN where either lane is NaN; max(−0, +0) is +0. */
  max: [0xfd, ...uleb(233)],
  /**
   * Relaxed SIMD `f32x4.relaxed_madd` (a·b + c; one fused multiply-add where the CPU has
   * one). Check {@linkcode relaxedSimd} before using it.
   */
  relaxedMadd: [0xfd, ...uleb(0x105)],
};

/** `for (i = 0; i < limit; i++) body` over the i32 local `i`; `limit` pushes the bound. */
export function forLoop(i: number, limit: number[], body: number[][]): number[][] {
  return [
    [...op.i32(0), ...op.set(i)],
    op.block,
    op.loop,
    [...op.get(i), ...limit, ...op.i32GeU, ...op.brIf(1)],
    ...body,
    [...op.get(i), ...op.i32(1), ...op.i32Add, ...op.set(i), ...op.br(0)],
    op.end,
    op.end,
  ];
}

let relaxed: boolean | undefined;

/** Whether this engine validates relaxed SIMD (`f32x4.relaxed_madd`); V8 12+ does. */
export function relaxedSimd(): boolean {
  if (relaxed === undefined) {
    const probe = encode([{
      name: "f",
      params: [],
      locals: [V128],
      body: [[...simd.zero, ...simd.zero, ...simd.zero, ...simd.relaxedMadd, ...op.set(0)]],
    }], false);
    relaxed = WebAssembly.validate(probe as Uint8Array<ArrayBuffer>);
  }
  return relaxed;
}

/** One exported function. */
export interface WasmFunction {
  name: string;
  params: number[];
  /** Extra locals, numbered after the parameters. */
  locals: number[];
  body: number[][];
}

/** The functions each {@linkcode assemble}d module was built from (to build its shared twin). */
const sources = new WeakMap<Uint8Array, WasmFunction[]>();

function encode(functions: WasmFunction[], shared: boolean): Uint8Array {
  const types = functions.map((f) => [0x60, ...vec(f.params.map((t) => [t])), 0]);
  const code = functions.map((f) => {
    const locals = vec(f.locals.map((t) => [1, t]));
    const body = [...locals, ...f.body.flat(), ...op.end];
    return [...uleb(body.length), ...body];
  });
  // A shared memory must declare its maximum: 65536 pages (4 GiB), the threaded build's.
  const limits = shared ? [0x03, 0x00, ...uleb(65536)] : [0x00, 0x00];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(types)),
    ...section(2, vec([[...str("env"), ...str("memory"), 0x02, ...limits]])),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(7, vec(functions.map((f, i) => [...str(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(code)),
  ]);
}

/**
 * Encode a module that imports `env.memory` and exports `functions`.
 * {@linkcode instantiate} builds its twin that imports a shared memory when
 * the backend's heap is shared (tfjs's threaded build).
 */
export function assemble(functions: WasmFunction[]): Uint8Array {
  const bytes = encode(functions, false);
  sources.set(bytes, functions);
  return bytes;
}

const sharedTwins = new WeakMap<Uint8Array, Uint8Array>();

/** The twin of an {@linkcode assemble}d module that imports a shared memory. */
export function sharedBytes(bytes: Uint8Array): Uint8Array {
  let twin = sharedTwins.get(bytes);
  if (!twin) {
    const functions = sources.get(bytes);
    if (!functions) throw new Error("sharedBytes: these bytes were not made by assemble()");
    sharedTwins.set(bytes, twin = encode(functions, true));
  }
  return twin;
}

/**
 * The `WebAssembly.Memory` the WASM backend keeps its tensors in: exported by
 * the single-threaded builds, imported (shared) by the threaded one.
 */
export function wasmHeapMemory(backend: unknown): WebAssembly.Memory | undefined {
  const wasm = (backend as { wasm?: { asm?: { memory?: unknown }; wasmMemory?: unknown } })?.wasm;
  const memory = wasm?.asm?.memory ?? wasm?.wasmMemory;
  return memory instanceof WebAssembly.Memory ? memory : undefined;
}

let warned = false;

/**
 * The WASM backend's memory (exported by the single-threaded builds, imported
 * and shared by the threaded one; see wasm_threads.ts). When it cannot be
 * found, the kernels built on it fall back to JavaScript loops: that is said
 * once, loudly, and the backend report lists it.
 */
export function backendMemory(backend: unknown): WebAssembly.Memory | undefined {
  const memory = wasmHeapMemory(backend);
  if (!memory && !warned && (backend as { wasm?: unknown })?.wasm) {
    warned = true;
    console.warn(
      "lib/kernels: the WASM backend's memory was not found; the SIMD kernels run as " +
        "JavaScript loops (slower). initBackend's report lists them under wasm.kernels.",
    );
  }
  return memory;
}

const instances = new WeakMap<WebAssembly.Memory, Map<Uint8Array, WebAssembly.Exports>>();
const modules = new WeakMap<WebAssembly.Exports, WebAssembly.Module>();

/**
 * The compiled module behind exports from {@linkcode instantiate}: another thread
 * instantiates it (not the bytes) so that it runs the code V8 has already
 * optimised here, not a baseline compile of its own.
 */
export function moduleOf(exports: WebAssembly.Exports): WebAssembly.Module {
  const module = modules.get(exports);
  if (!module) throw new Error("moduleOf: these exports were not made by instantiate()");
  return module;
}

/** Instantiate `bytes` on `memory` once per memory; later calls return the same exports. */
export function instantiate(bytes: Uint8Array, memory: WebAssembly.Memory): WebAssembly.Exports {
  let byBytes = instances.get(memory);
  if (!byBytes) instances.set(memory, byBytes = new Map());
  let exports = byBytes.get(bytes);
  if (!exports) {
    const shared = typeof SharedArrayBuffer !== "undefined" &&
      memory.buffer instanceof SharedArrayBuffer;
    const code = shared && sources.has(bytes) ? sharedBytes(bytes) : bytes;
    const module = new WebAssembly.Module(code as Uint8Array<ArrayBuffer>);
    exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
    byBytes.set(bytes, exports);
    modules.set(exports, module);
  }
  return exports;
}
