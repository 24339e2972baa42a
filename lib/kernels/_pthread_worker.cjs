// A pthread worker of tfjs-backend-wasm's threaded build, run by node:worker_threads in Deno
// (see wasm_threads.ts). Emscripten's worker code (the package's `wasmWorkerContents`) assumes
// Node's CommonJS globals; this file provides them, then runs that code unchanged:
// - `require` and `__filename` as globals (the code runs by indirect eval, in global scope);
// - a writable `location` (Deno's worker global has a getter-only one, and Emscripten assigns it).
"use strict";
const { workerData } = require("node:worker_threads");
globalThis.require = require;
globalThis.__filename = workerData.factory;
globalThis.global = globalThis;
Object.defineProperty(globalThis, "location", {
  value: { href: workerData.factory },
  writable: true,
  configurable: true,
});
// As tfjs does before it makes a Blob of it: the text holds "\n" escapes that became newlines.
(0, eval)(require(workerData.contents).wasmWorkerContents.replace(/\n/g, "\\n"));
