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
 * registered (in JavaScript) or defined (in Python) before loading.
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
import { writeTemp } from "./atomic.ts";

/** The file names {@linkcode saveModel} writes. */
export const MODEL_JSON = "model.json";
/** The weight file {@linkcode saveModel} writes. */
export const WEIGHTS_BIN = "weights.bin";

/** A model file that is missing, unreadable or inconsistent; `file` names it. */
export class ModelFileError extends Error {
  /** The file at fault. */
  readonly file: string;
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
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
  const per = BYTES[dtype];
  if (per === undefined) {
    throw new ModelFileError(
      file,
      `weight "${spec.name}" has dtype "${dtype}", which cannot be stored here`,
    );
  }
  return spec.shape.reduce((a, d) => a * d, 1) * per;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
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

/**
 * A tfjs `IOHandler` that saves to and loads from `dir` on the file system
 * (`model.save(fileSystem(dir))`, `tf.loadLayersModel(fileSystem(dir))`).
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
      await Deno.mkdir(dir, { recursive: true });
      const weightData = artifacts.weightData === undefined
        ? new ArrayBuffer(0)
        : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const modelJSON: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        format: artifacts.format ?? "layers-model",
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig != null) modelJSON.trainingConfig = artifacts.trainingConfig;
      if (artifacts.signature != null) modelJSON.signature = artifacts.signature;
      if (artifacts.userDefinedMetadata != null) {
        modelJSON.userDefinedMetadata = artifacts.userDefinedMetadata;
      }
      const weightsPath = join(dir, WEIGHTS_BIN);
      const temps: string[] = [];
      try {
        temps.push(await writeTemp(weightsPath, new Uint8Array(weightData)));
        temps.push(await writeTemp(jsonPath, JSON.stringify(modelJSON, null, 1)));
        // Weights first: model.json, the entry point, only ever names complete weights.
        await Deno.rename(temps[0], weightsPath);
        await Deno.rename(temps[1], jsonPath);
      } catch (e) {
        for (const t of temps) await Deno.remove(t).catch(() => {});
        throw e;
      }
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },

    async load(): Promise<tf.io.ModelArtifacts> {
      let text: string;
      try {
        text = await Deno.readTextFile(jsonPath);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) {
          throw new ModelFileError(
            jsonPath,
            (await exists(dir)
              ? "not found in the directory"
              : `the directory ${dir} does not exist`) +
              "; save a model there first with saveModel(model, dir)",
          );
        }
        throw new ModelFileError(jsonPath, `cannot be read: ${(e as Error).message}`);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (e) {
        throw new ModelFileError(
          jsonPath,
          `is not valid JSON (${(e as Error).message}); the file is damaged: save the model again`,
        );
      }
      const modelJSON = validateModelJson(parsed, jsonPath);
      return await tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: Uint8Array[] = [];
        for (const group of manifest) {
          const expected = group.weights.reduce((a, w) => a + specBytes(w, jsonPath), 0);
          let got = 0;
          const files: string[] = [];
          for (const p of group.paths) {
            const path = join(dir, p);
            files.push(path);
            let data: Uint8Array;
            try {
              data = await Deno.readFile(path);
            } catch (e) {
              if (e instanceof Deno.errors.NotFound) {
                throw new ModelFileError(
                  path,
                  `missing: ${MODEL_JSON} lists it in its weightsManifest; copy it next to ${MODEL_JSON} or save the model again`,
                );
              }
              throw new ModelFileError(path, `cannot be read: ${(e as Error).message}`);
            }
            buffers.push(data);
            got += data.length;
          }
          const where = files.join(", ");
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
          specs.push(...group.weights);
        }
        const all = new Uint8Array(buffers.reduce((a, b) => a + b.length, 0));
        let off = 0;
        for (const b of buffers) {
          all.set(b, off);
          off += b.length;
        }
        return [specs, all.buffer];
      });
    },
  };
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

/**
 * Loads a model saved by {@linkcode saveModel} (or by tfjs anywhere) from
 * `dir`. Throws {@linkcode ModelFileError} when a file is missing, truncated
 * or does not fit the other. Custom layers must be registered first
 * (importing their module does it).
 */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  const jsonPath = join(dir, MODEL_JSON);
  const artifacts = await fileSystem(dir).load();
  const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split("\n")[0];
  let model: tf.LayersModel;
  try {
    model = await tf.models.modelFromJSON(
      {
        modelTopology: artifacts.modelTopology as tf.serialization.ConfigDict,
      } as Parameters<typeof tf.models.modelFromJSON>[0],
    );
  } catch (e) {
    const msg = firstLine(e);
    if (/Unknown (?:layer|class|constraint|initializer|regularizer)/i.test(msg)) {
      throw new ModelFileError(
        jsonPath,
        `uses a class tfjs does not know (${msg}); import the module that registers it ` +
          "(tf.serialization.registerClass) before loading",
      );
    }
    throw new ModelFileError(jsonPath, `has a modelTopology tfjs cannot build (${msg})`);
  }
  const specs = artifacts.weightSpecs ?? [];
  const named = tf.io.decodeWeights(artifacts.weightData ?? new ArrayBuffer(0), specs);
  try {
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
