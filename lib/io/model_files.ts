/**
 * Saving and loading Keras models on the file system, in TensorFlow.js's own
 * format: `model.json` (the topology, format `"layers-model"`, and a
 * `weightsManifest`) plus `weights.bin` (the weights, little-endian, in
 * manifest order). tfjs's `file://` handler only exists in tfjs-node; here a
 * Deno IO handler ({@linkcode fileSystem}) does the same job.
 *
 * The files are the ones `model.save("downloads://...")` makes in a browser,
 * so they load there unchanged with `tf.loadLayersModel("https://.../model.json")`:
 * a model trained in a notebook can be served on a web page. To move to
 * Python, convert them to Keras with TensorFlow's converter:
 * `tensorflowjs_converter --input_format=tfjs_layers_model --output_format=keras model.json out.h5`
 * (from `pip install tensorflowjs`). Models with a custom layer need its class
 * registered (in JavaScript; Keras: `register_keras_serializable`), passed to
 * `loadModel(dir, { customObjects })` (Keras: `custom_objects`), or defined
 * (in Python) before loading.
 *
 * What round-trips, as in Keras' saving guide: the architecture (each layer's
 * config, `trainable` included, so frozen layers stay frozen), every weight
 * (non-trainable ones too) and, with `includeOptimizer: true`, the compile
 * settings and the optimizer's state. One difference, tfjs's default kept on
 * purpose: Keras' `model.save` includes the optimizer by default, `saveModel`
 * (like tfjs's `model.save`) only when asked, so by default `weights.bin` holds
 * exactly the model's weights and the loaded model comes back uncompiled.
 *
 * Writes are atomic: both files are written to temporary names in the target
 * directory, then renamed, weights first, `model.json` last. Loading checks
 * the files before tfjs sees them and throws {@linkcode ModelFileError}, naming
 * the file, for a missing or invalid `model.json`, a missing or truncated
 * weight file, or weights that do not fit the model.
 *
 * @example Save, load, same predictions
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { loadModel, saveModel } from "./model_files.ts";
 * import { mlp } from "../models/sequential.ts";
 * const model = mlp({ seed: 1 });
 * const dir = await Deno.makeTempDir();
 * await saveModel(model, dir); // dir/model.json + dir/weights.bin
 * const again = await loadModel(dir);
 * const x = tf.ones([1, 28, 28, 1]);
 * console.log(tf.equal(model.predict(x) as tf.Tensor, again.predict(x) as tf.Tensor).all().dataSync()[0]); // 1
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { commitFiles, type FileWriteError } from "./atomic.ts";
import {
  describeFsError,
  notUtf8,
  type PathFault,
  readAtMost,
  resolveInside,
  statPath,
} from "./safe_path.ts";

/** The file names {@linkcode saveModel} writes. */
export const MODEL_JSON = "model.json";
/** The weight file {@linkcode saveModel} writes. */
export const WEIGHTS_BIN = "weights.bin";

/** A model file that is missing, unreadable or inconsistent; `file` names it. */
export class ModelFileError extends Error {
  /** The file at fault. */
  readonly file: string;
  constructor(file: string, message: string, options?: ErrorOptions) {
    super(message.startsWith(`${file}: `) ? message : `${file}: ${message}`, options);
    this.name = "ModelFileError";
    this.file = file;
  }
}

const BYTES: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  complex64: 8,
  uint8: 1,
  uint16: 2,
  float16: 2,
};

function specBytes(spec: tf.io.WeightsManifestEntry, file: string): number {
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const per = Object.hasOwn(BYTES, dtype) ? BYTES[dtype] : undefined;
  if (per === undefined) {
    throw new ModelFileError(
      file,
      `weight "${spec.name}" has dtype "${dtype}", which cannot be stored here`,
    );
  }
  return spec.shape.reduce((a, d) => a * d, 1) * per;
}

function validateModelJson(json: unknown, file: string): tf.io.ModelJSON {
  const bad = (what: string) =>
    new ModelFileError(
      file,
      `${what}; it is not a TensorFlow.js layers model.json (saveModel writes one)`,
    );
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw bad("the top level is not an object");
  }
  const m = json as Record<string, unknown>;
  if (typeof m.modelTopology !== "object" || m.modelTopology === null) {
    throw bad('"modelTopology" is missing');
  }
  if (m.format !== undefined && m.format !== "layers-model") {
    throw new ModelFileError(
      file,
      `format is "${m.format}"; loadModel reads "layers-model" files (use tf.loadGraphModel for graph models)`,
    );
  }
  if (!Array.isArray(m.weightsManifest)) throw bad('"weightsManifest" is missing');
  m.weightsManifest.forEach((g: unknown, i: number) => {
    const group = g as Record<string, unknown>;
    if (
      typeof group !== "object" || group === null || !Array.isArray(group.paths) ||
      !group.paths.every((p) => typeof p === "string") || !Array.isArray(group.weights)
    ) {
      throw bad(`weightsManifest[${i}] lacks "paths" (file names) or "weights" (specs)`);
    }
    for (const w of group.weights as Record<string, unknown>[]) {
      if (
        typeof w?.name !== "string" || !Array.isArray(w.shape) ||
        !w.shape.every((d) => Number.isInteger(d) && d >= 0) || typeof w.dtype !== "string"
      ) {
        throw bad(`weightsManifest[${i}] has a weight without a name, shape or dtype`);
      }
    }
  });
  return json as tf.io.ModelJSON;
}

/** A tfjs `IOHandler` with both halves: `save` and `load`. */
export type FileSystemHandler = Required<Pick<tf.io.IOHandler, "save" | "load">>;

/** The largest `model.json` read (64 MiB): a topology is a few kilobytes to a few megabytes. */
export const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;

/**
 * The weight files the current `model.json` in `dir` names, that this module
 * may remove once a new save is committed: plain names of regular files (not
 * symlinks) inside `dir`. Anything else in a (possibly hostile) manifest is ignored.
 */
async function previousWeights(dir: string): Promise<string[]> {
  let json: unknown;
  try {
    const info = await Deno.lstat(join(dir, MODEL_JSON));
    if (!info.isFile || info.size > MAX_MODEL_JSON_BYTES) return [];
    json = JSON.parse(await Deno.readTextFile(join(dir, MODEL_JSON)));
  } catch {
    return [];
  }
  const names: string[] = [];
  const manifest = (json as { weightsManifest?: unknown })?.weightsManifest;
  if (!Array.isArray(manifest)) return [];
  for (const group of manifest) {
    const paths = (group as { paths?: unknown })?.paths;
    if (!Array.isArray(paths)) continue;
    for (const p of paths) {
      if (typeof p !== "string" || !/^[\w.-]+$/.test(p) || p === MODEL_JSON || p.startsWith(".")) {
        continue;
      }
      try {
        if ((await Deno.lstat(join(dir, p))).isFile) names.push(p);
      } catch {
        // already gone
      }
    }
  }
  return names;
}

/** How many times a load starts again when a save replaces model.json under it. */
const LOAD_ATTEMPTS = 5;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Creates `dir` if needed; a file in its place is a ModelFileError. */
async function ensureDir(dir: string): Promise<void> {
  try {
    const info = await Deno.stat(dir);
    if (!info.isDirectory) {
      throw new ModelFileError(
        dir,
        "is a file, not a folder: saveModel writes model.json and its weights into a folder; " +
          "choose another path",
      );
    }
    return;
  } catch (e) {
    if (e instanceof ModelFileError) throw e;
    if (!(e instanceof Deno.errors.NotFound) || notUtf8(dir)) {
      throw new ModelFileError(dir, describeFsError(dir, e).message);
    }
  }
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (e) {
    throw new ModelFileError(dir, `cannot create the folder (${describeFsError(dir, e).message})`);
  }
}

function validateModelJsonStrict(json: unknown, file: string): tf.io.ModelJSON {
  const m = validateModelJson(json, file);
  const seen = new Set<string>();
  m.weightsManifest.forEach((group, i) => {
    if (group.paths.length === 0 && group.weights.length > 0) {
      throw new ModelFileError(
        file,
        `weightsManifest[${i}] lists ${group.weights.length} weights but no file ("paths": []); ` +
          "the weights are missing: save the model again",
      );
    }
    for (const w of group.weights) {
      if (seen.has(w.name)) {
        throw new ModelFileError(file, `weight "${w.name}" appears twice in weightsManifest`);
      }
      seen.add(w.name);
    }
  });
  return m;
}

/**
 * A tfjs `IOHandler` that saves to and loads from `dir` on the file system
 * (`model.save(fileSystem(dir))`, `tf.loadLayersModel(fileSystem(dir))`).
 *
 * Saving is atomic as a pair ({@linkcode commitFiles}), and ends with the
 * usual `model.json` + `weights.bin`. In a fresh folder the pair is committed
 * at once. Over an existing model, the new weights are first written under a
 * fresh name (`weights-<random>.bin`) and committed with a `model.json` naming
 * them (the switch from the old model to the new one is that rename); then,
 * nothing naming `weights.bin` any more, the weights are written again as
 * `weights.bin` and committed with a `model.json` naming it, and the staging
 * file is removed. Every state in between is the whole old model or the whole
 * new one. Loading resolves every weight path inside `dir`, checks sizes before
 * it reads a byte, and loads again if `model.json` was replaced while it read.
 */
export function fileSystem(dir: string): FileSystemHandler {
  const jsonPath = join(dir, MODEL_JSON);
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new ModelFileError(
          jsonPath,
          "this handler saves layers models (a JSON topology), not graph models",
        );
      }
      await ensureDir(dir);
      const weightData = artifacts.weightData === undefined
        ? new ArrayBuffer(0)
        : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const json = (weightsName: string) => {
        const modelJSON: tf.io.ModelJSON = {
          modelTopology: artifacts.modelTopology ?? {},
          format: artifacts.format ?? "layers-model",
          generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
          convertedBy: artifacts.convertedBy ?? null,
          weightsManifest: [{ paths: [weightsName], weights: artifacts.weightSpecs ?? [] }],
        };
        if (artifacts.trainingConfig != null) modelJSON.trainingConfig = artifacts.trainingConfig;
        if (artifacts.signature != null) modelJSON.signature = artifacts.signature;
        if (artifacts.userDefinedMetadata != null) {
          modelJSON.userDefinedMetadata = artifacts.userDefinedMetadata;
        }
        return { name: MODEL_JSON, data: JSON.stringify(modelJSON, null, 1) };
      };
      const weights = new Uint8Array(weightData);
      const previous = await previousWeights(dir);
      const replacing = await exists(jsonPath);
      // Over an existing model, the new weights go first under a fresh name, committed with
      // a model.json naming it; only then, with nothing naming weights.bin any more, are
      // they written as weights.bin and committed again, and the staging file removed.
      const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(16).padStart(8, "0");
      const staging = `weights-${rand}.bin`;
      try {
        await commitFiles(dir, {
          parts: [{ name: replacing ? staging : WEIGHTS_BIN, data: weights }],
          manifest: json(replacing ? staging : WEIGHTS_BIN),
        });
      } catch (e) {
        const fe = e as FileWriteError;
        throw new ModelFileError(fe.path ?? jsonPath, fe.message, { cause: e });
      }
      try {
        if (replacing) {
          await commitFiles(dir, {
            parts: [{ name: WEIGHTS_BIN, data: weights }],
            manifest: json(WEIGHTS_BIN),
            obsolete: [staging, ...previous],
          });
        }
      } catch {
        // The new model is saved (under the staging name): the next save tidies up.
      }
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },

    async load(): Promise<tf.io.ModelArtifacts> {
      // A save replaces model.json by a rename: if it happened while this load read the
      // weights, what was read may mix two saves, so load again (the weights it named may
      // also be gone: the same cause).
      for (let attempt = 1;; attempt++) {
        const before = await identity(jsonPath);
        try {
          const artifacts = await loadOnce();
          if (before === await identity(jsonPath)) return artifacts;
          if (attempt >= LOAD_ATTEMPTS) {
            throw new ModelFileError(
              jsonPath,
              `was replaced while it was read, ${LOAD_ATTEMPTS} times (a save in progress?); load it again`,
            );
          }
        } catch (e) {
          if (
            attempt >= LOAD_ATTEMPTS || !(e instanceof ModelFileError) ||
            before === await identity(jsonPath)
          ) {
            throw e;
          }
        }
      }
    },
  };

  async function loadOnce(): Promise<tf.io.ModelArtifacts> {
    const dirInfo = await statPath(
      dir,
      (fault, message) =>
        fault === "missing"
          ? new ModelFileError(
            jsonPath,
            `the directory ${dir} does not exist; save a model there first with saveModel(model, dir)`,
          )
          : new ModelFileError(dir, message),
    );
    if (!dirInfo.isDirectory) {
      throw new ModelFileError(dir, "is a file, not a folder: pass the folder of model.json");
    }
    const fail = (file: string) => (fault: PathFault, message: string) =>
      new ModelFileError(
        file,
        fault === "missing"
          ? (file === jsonPath
            ? "not found in the directory; save a model there first with saveModel(model, dir)"
            : `missing: ${MODEL_JSON} lists it in its weightsManifest; copy it next to ` +
              `${MODEL_JSON} or save the model again`)
          : message,
      );
    const json = await resolveInside(dir, MODEL_JSON, fail(jsonPath));
    if (json.info.size > MAX_MODEL_JSON_BYTES) {
      throw new ModelFileError(
        jsonPath,
        `is ${json.info.size} bytes, more than the ${MAX_MODEL_JSON_BYTES} a model.json may have`,
      );
    }
    const raw = await readAtMost(jsonPath, json.info.size, fail(jsonPath));
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
    } catch (e) {
      throw new ModelFileError(
        jsonPath,
        `is not valid JSON (${(e as Error).message}); the file is damaged: save the model again`,
      );
    }
    const modelJSON = validateModelJsonStrict(parsed, jsonPath);
    // Every path resolved, every size checked against the manifest, before any weight is read.
    const plan: { files: { path: string; size: number }[]; expected: number }[] = [];
    for (const group of modelJSON.weightsManifest) {
      const expected = group.weights.reduce((a, w) => a + specBytes(w, jsonPath), 0);
      const files: { path: string; size: number }[] = [];
      for (const p of group.paths) {
        const { path, info } = await resolveInside(dir, p, fail(join(dir, String(p))));
        files.push({ path, size: info.size });
      }
      const got = files.reduce((a, f) => a + f.size, 0);
      const where = files.map((f) => f.path).join(", ");
      if (got < expected) {
        throw new ModelFileError(
          where,
          `truncated: ${got} bytes, but ${MODEL_JSON}'s weightsManifest needs ${expected}; ` +
            "the copy is incomplete: save or copy the model again",
        );
      }
      if (got > expected) {
        throw new ModelFileError(
          where,
          `has ${got} bytes, but ${MODEL_JSON}'s weightsManifest describes ${expected}: ` +
            `the weights do not belong to this ${MODEL_JSON}; save the model again`,
        );
      }
      plan.push({ files, expected });
    }
    return await tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
      const specs: tf.io.WeightsManifestEntry[] = manifest.flatMap((g) => g.weights);
      const all = new Uint8Array(plan.reduce((a, g) => a + g.expected, 0));
      let off = 0;
      for (const group of plan) {
        for (const f of group.files) {
          const data = await readAtMost(f.path, f.size, fail(f.path));
          if (data.length !== f.size) {
            throw new ModelFileError(f.path, "changed while it was read; load it again");
          }
          all.set(data, off);
          off += data.length;
        }
      }
      return [specs, all.buffer];
    });
  }
}

/** A file's identity (inode, size, modification time), or "" when it cannot be stat'ed. */
async function identity(path: string): Promise<string> {
  try {
    const i = await Deno.stat(path);
    return `${i.dev}:${i.ino}:${i.size}:${i.mtime?.getTime()}`;
  } catch {
    return "";
  }
}

/** Options of {@linkcode saveModel}. */
export interface SaveModelOptions {
  /**
   * Also save the compile settings and the optimizer's state (Adam's moments),
   * so that training resumes exactly where it stopped. Default false.
   */
  includeOptimizer?: boolean;
}

/**
 * Saves `model` to `dir` as `model.json` + `weights.bin` (Keras:
 * `model.save(path)`; tfjs-node: `model.save("file://dir")`). Creates `dir`.
 */
export async function saveModel(
  model: tf.LayersModel,
  dir: string,
  options: SaveModelOptions = {},
): Promise<tf.io.SaveResult> {
  return await model.save(fileSystem(dir), { includeOptimizer: options.includeOptimizer ?? false });
}

/** Options of {@linkcode loadModel}. */
export interface LoadModelOptions {
  /**
   * Classes of custom layers by the class name saved in `model.json`, used for
   * this load only (Keras: `load_model(path, custom_objects={...})`). A class
   * registered with `tf.serialization.registerClass` (Keras:
   * `register_keras_serializable`) needs no entry here.
   */
  customObjects?: Record<string, tf.serialization.SerializableConstructor<tf.layers.Layer>>;
}

/**
 * Loads a model saved by {@linkcode saveModel} (or by tfjs anywhere) from
 * `dir`. Throws {@linkcode ModelFileError} when a file is missing, truncated
 * or does not fit the other. Custom layers must be registered first
 * (importing their module does it) or passed in `options.customObjects`.
 */
export async function loadModel(
  dir: string,
  options: LoadModelOptions = {},
): Promise<tf.LayersModel> {
  const jsonPath = join(dir, MODEL_JSON);
  const artifacts = await fileSystem(dir).load();
  const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split("\n")[0];
  const specs = artifacts.weightSpecs ?? [];
  const model = await buildWithinManifest(
    artifacts,
    specs,
    jsonPath,
    firstLine,
    options.customObjects ?? {},
  );
  let named: tf.NamedTensorMap = {};
  try {
    named = tf.io.decodeWeights(artifacts.weightData ?? new ArrayBuffer(0), specs);
    const modelWeights: tf.NamedTensorMap = {};
    const optimizerWeights: { name: string; tensor: tf.Tensor }[] = [];
    for (const spec of specs) {
      if (spec.group === "optimizer") {
        optimizerWeights.push({ name: spec.name, tensor: named[spec.name] });
      } else modelWeights[spec.name] = named[spec.name];
    }
    // strict: every weight of the model must be in the file, with its shape, and nothing else.
    model.loadWeights(modelWeights, true);
    if (artifacts.trainingConfig != null) {
      model.loadTrainingConfig(
        artifacts.trainingConfig as Parameters<tf.LayersModel["loadTrainingConfig"]>[0],
      );
    }
    if (artifacts.userDefinedMetadata != null) {
      model.setUserDefinedMetadata(artifacts.userDefinedMetadata);
    }
    if (model.optimizer != null && optimizerWeights.length > 0) {
      await model.optimizer.setWeights(optimizerWeights);
    }
  } catch (e) {
    model.optimizer?.dispose();
    model.dispose();
    throw new ModelFileError(
      jsonPath,
      `does not match its weights (${firstLine(e)}); model.json and ${WEIGHTS_BIN} must ` +
        "come from the same save",
    );
  } finally {
    tf.dispose(Object.values(named));
  }
  return model;
}

/**
 * Builds the topology checking each weight against the manifest (name, shape
 * and dtype, at each layer's `addWeight`, before its values exist), so a topology
 * that does not fit its weights allocates nothing beyond them; initial values
 * are zeros (as tfjs's fast-init does: the file's replace them); what was
 * built is freed when building fails. `customObjects` are registered for the
 * build only (tfjs's own `customObjects` argument does not reach the layers of
 * a Sequential model), then the registry is put back as it was.
 */
async function buildWithinManifest(
  artifacts: tf.io.ModelArtifacts,
  specs: tf.io.WeightsManifestEntry[],
  jsonPath: string,
  firstLine: (e: unknown) => string,
  customObjects: Record<string, tf.serialization.SerializableConstructor<tf.layers.Layer>>,
): Promise<tf.LayersModel> {
  // The manifest's model weights by their last name part ("kernel", "bias", ...): a layer's
  // weight "kernel" is saved as "<scope>/<layer>/kernel".
  const listed = new Map<string, { shape: number[]; dtype: string }[]>();
  for (const spec of specs) {
    if (spec.group === "optimizer") continue;
    const base = spec.name.slice(spec.name.lastIndexOf("/") + 1);
    listed.set(base, [...(listed.get(base) ?? []), { shape: spec.shape, dtype: spec.dtype }]);
  }
  const created: { dispose(): void }[] = [];
  const proto = tf.layers.Layer.prototype as unknown as {
    addWeight: (name: string, shape: number[], ...rest: unknown[]) => { dispose(): void };
  };
  const original = proto.addWeight;
  proto.addWeight = function (this: tf.layers.Layer, name, shape, ...rest) {
    // Before the values exist: the manifest must list a weight of this name and shape
    // (each listed weight matches once), so the topology allocates no more than the file holds.
    const candidates = listed.get(String(name)) ?? [];
    const dtype = (rest[0] as string | undefined) ?? "float32";
    const at = candidates.findIndex((s) =>
      tf.util.arraysEqual(s.shape, shape) && s.dtype === dtype
    );
    if (at < 0) {
      throw new ModelFileError(
        jsonPath,
        `does not match its weights: its modelTopology gives layer "${this.name}" a weight ` +
          `"${name}" of shape [${shape}] (${dtype}), which its weightsManifest does not list (` +
          (candidates.length > 0
            ? `it lists "${name}" as ${
              candidates.map((c) => `[${c.shape}] (${c.dtype})`).join(", ")
            }`
            : `no weight "${name}" is left`) +
          `); model.json and ${WEIGHTS_BIN} must come from the same save`,
      );
    }
    candidates.splice(at, 1);
    // Zeros (the file's values replace them), recorded: a failure inside addWeight
    // (e.g. an invalid layer name) would otherwise leak the initial value.
    rest[1] = {
      apply: (s: number[], dtype?: tf.DataType) => {
        const t = tf.zeros(s, dtype);
        created.push(t);
        return t;
      },
    };
    const w = original.call(this, name, shape, ...rest);
    created.push(w);
    return w;
  };
  const registry = tf.serialization.SerializationMap.getMap().classNameMap;
  const replaced = Object.keys(customObjects).map((name) =>
    [name, Object.hasOwn(registry, name) ? registry[name] : undefined] as const
  );
  for (const [name, cls] of Object.entries(customObjects)) {
    registry[name] = [cls, cls.fromConfig] as unknown as (typeof registry)[string];
  }
  let pending: Promise<tf.LayersModel>;
  try {
    // modelFromJSON builds the layers synchronously, before its first await: the patch
    // is in place for exactly this model's build.
    pending = tf.models.modelFromJSON(
      {
        modelTopology: artifacts.modelTopology as tf.serialization.ConfigDict,
      } as Parameters<typeof tf.models.modelFromJSON>[0],
    );
  } finally {
    proto.addWeight = original;
    for (const [name, entry] of replaced) {
      if (entry === undefined) delete registry[name];
      else registry[name] = entry;
    }
  }
  try {
    return await pending;
  } catch (e) {
    for (const w of created) {
      try {
        if (!(w instanceof tf.Tensor && w.isDisposed)) w.dispose();
      } catch {
        // already freed with its layer
      }
    }
    if (e instanceof ModelFileError) throw e;
    const msg = firstLine(e);
    if (/Unknown (?:layer|class|constraint|initializer|regularizer)/i.test(msg)) {
      throw new ModelFileError(
        jsonPath,
        `uses a class tfjs does not know (${msg}); import the module that registers it ` +
          "(tf.serialization.registerClass) before loading, or pass the class in " +
          "loadModel's customObjects",
      );
    }
    throw new ModelFileError(jsonPath, `has a modelTopology tfjs cannot build (${msg})`);
  }
}
