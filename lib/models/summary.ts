/**
 * `model.summary()` as a table the notebook renders: one row per layer with
 * its type, output shape, parameter count and (for graphs that branch) the
 * layers feeding it, then the totals. The counts are Keras' (a Dense layer
 * has `in·out + out` weights, a Conv2D `k·k·in·filters + filters`), so they
 * match what `model.summary()` prints in Python for the same architecture.
 *
 * As in Keras: a Sequential model lists no InputLayer, a functional one lists
 * its inputs first; weights of frozen layers (`trainable = false`) count as
 * non-trainable; the "Connected to" column names each input as
 * `layer[node_index][tensor_index]` (a layer shared by two calls has nodes 0
 * and 1), counting only the calls that belong to this model; a model nested
 * as a layer is of type "Functional" (tfjs names its class "Model"); a subclassed
 * model's layers print "multiple" as output shape; and a model whose layers
 * are not built yet raises {@linkcode ModelNotBuiltError} (Keras: "This model
 * has not yet been built"). The table keeps the classic Keras 2 text layout
 * (`_` and `=` rules) rather than Keras 3's box drawing.
 *
 * @example
 * ```ts
 * import { mlp } from "./sequential.ts";
 * import { summary } from "./summary.ts";
 * const s = summary(mlp());
 * console.log(s.totalParams); // 101770
 * console.log(String(s)); // the text table Keras prints
 * ```
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** Thrown by {@linkcode summary} for a model with a layer whose weights do not exist yet. */
export class ModelNotBuiltError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelNotBuiltError";
  }
}

/** One layer in a {@linkcode ModelSummary}. */
export interface SummaryRow {
  name: string;
  /** The layer's class, e.g. "Conv2D". */
  type: string;
  /** Keras style: "(None, 26, 26, 16)"; "multiple" when the layer has no single shape. */
  outputShape: string;
  params: number;
  /** The inputs of this layer in this model, as Keras prints them: `"stem[0][0]"` (functional models). */
  connectedTo: string[];
}

/** What {@linkcode summary} returns: data, a text table, and an HTML table in Jupyter. */
export interface ModelSummary {
  name: string;
  rows: SummaryRow[];
  totalParams: number;
  trainableParams: number;
  nonTrainableParams: number;
  /** Keras-style text table. */
  toString(): string;
  /** The Jupyter mime bundle (HTML table + text). */
  [key: symbol]: unknown;
}

/** The layers-and-weights view {@linkcode summary} needs (a LayersModel or a `DigitNet`). */
export interface Summarizable {
  name: string;
  layers: tf.layers.Layer[];
}

function shapeText(shape: unknown): string {
  if (!Array.isArray(shape)) return "multiple";
  if (shape.length > 0 && Array.isArray(shape[0])) {
    return shape.length === 1 ? `[${shapeText(shape[0])}]` : "multiple";
  }
  const dims = shape.map((d) => (d === null || d === undefined ? "None" : String(d)));
  return `(${dims.join(", ")}${dims.length === 1 ? "," : ""})`;
}

function outputShapeOf(layer: tf.layers.Layer): string {
  try {
    return shapeText(layer.outputShape);
  } catch {
    return "multiple"; // never called on a symbolic input (subclassed models), as Keras prints
  }
}

interface Node {
  inboundLayers: tf.layers.Layer[];
  nodeIndices: number[];
  tensorIndices: number[];
}

/**
 * The inputs of `layer` as Keras prints them, `name[node_index][tensor_index]`, from its calls
 * that belong to the model (`relevant`, when the model is a graph; a layer may also be called
 * in other models).
 */
function inbound(layer: tf.layers.Layer, relevant: Set<Node> | undefined): string[] {
  const nodes = (layer as unknown as { inboundNodes?: Node[] }).inboundNodes ?? [];
  return nodes.filter((n) => relevant === undefined || relevant.has(n)).flatMap((n) =>
    n.inboundLayers.map((l, i) => `${l.name}[${n.nodeIndices[i]}][${n.tensorIndices[i]}]`)
  );
}

/** The class Keras prints: a model built with `tf.model` (tfjs class "Model") nested as a layer is "Functional". */
function typeName(layer: tf.layers.Layer): string {
  const name = layer.getClassName();
  return name === "Model" && "layers" in layer ? "Functional" : name;
}

/** The nodes of a graph model (tfjs `Container.nodesByDepth`), or undefined for other models. */
function modelNodes(model: Summarizable): Set<Node> | undefined {
  const byDepth = (model as unknown as { nodesByDepth?: Record<string, Node[]> }).nodesByDepth;
  return byDepth === undefined ? undefined : new Set(Object.values(byDepth).flat());
}

/** The "Connected to" cell: the inputs, or "-" for a layer with none (an InputLayer), as Keras prints. */
const connectedText = (r: SummaryRow): string => r.connectedTo.join(", ") || "-";

const escape = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

const fmt = (n: number): string => n.toLocaleString("en-US");

function weightCount(ws: { shape: (number | null)[] }[]): number {
  return ws.reduce((a, w) => a + w.shape.reduce((p: number, d) => p * (d ?? 0), 1), 0);
}

/** A summary of `model` (Keras: `model.summary()`), shown as an HTML table in Jupyter. */
export function summary(model: Summarizable): ModelSummary {
  const unbuilt = model.layers.find((l) => !l.built);
  if (unbuilt !== undefined) {
    throw new ModelNotBuiltError(
      `summary: model "${model.name}" has not yet been built: its layer "${unbuilt.name}" has no ` +
        "weights yet. Build it first: give the first layer an input shape, or call the model " +
        "(or that layer) on a batch of data",
    );
  }
  const relevant = modelNodes(model);
  const connections = model.layers.map((l) => inbound(l, relevant));
  const branched = connections.some((c) => c.length > 1);
  const rows: SummaryRow[] = model.layers.map((l, i) => ({
    name: l.name,
    type: typeName(l),
    outputShape: outputShapeOf(l),
    params: l.countParams(),
    connectedTo: connections[i],
  }));
  const trainable = model.layers.reduce((a, l) => a + weightCount(l.trainableWeights), 0);
  const total = model.layers.reduce((a, l) => a + l.countParams(), 0);
  const name = model.name;

  const text = (): string => {
    const cols = ["Layer (type)", "Output Shape", "Param #", ...(branched ? ["Connected to"] : [])];
    const cells = rows.map((r) => [
      `${r.name} (${r.type})`,
      r.outputShape,
      fmt(r.params),
      ...(branched ? [connectedText(r)] : []),
    ]);
    const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)) + 2);
    const line = (row: string[]) => row.map((c, i) => c.padEnd(widths[i])).join("").trimEnd();
    const rule = (ch: string) => ch.repeat(widths.reduce((a, b) => a + b, 0));
    return [
      `Model: "${name}"`,
      rule("_"),
      line(cols),
      rule("="),
      ...cells.flatMap((c, i) => [line(c), i < cells.length - 1 ? rule("_") : rule("=")]),
      `Total params: ${fmt(total)}`,
      `Trainable params: ${fmt(trainable)}`,
      `Non-trainable params: ${fmt(total - trainable)}`,
      rule("_"),
    ].join("\n");
  };

  const htmlTable = (): string => {
    const th = (s: string, right = false) =>
      `<th style="text-align:${right ? "right" : "left"};padding:2px 10px">${escape(s)}</th>`;
    const td = (s: string, right = false) =>
      `<td style="text-align:${right ? "right" : "left"};padding:2px 10px;font-family:monospace">${
        escape(s)
      }</td>`;
    const head = `<tr>${th("Layer (type)")}${th("Output Shape")}${th("Param #", true)}${
      branched ? th("Connected to") : ""
    }</tr>`;
    const body = rows.map((r) =>
      `<tr>${td(`${r.name} (${r.type})`)}${td(r.outputShape)}${td(fmt(r.params), true)}${
        branched ? td(connectedText(r)) : ""
      }</tr>`
    ).join("");
    const foot = [
      ["Total params", total],
      ["Trainable params", trainable],
      ["Non-trainable params", total - trainable],
    ].map(([k, v]) =>
      `<tr><td colspan="2" style="padding:2px 10px"><b>${k}</b></td>${td(fmt(v as number), true)}${
        branched ? "<td></td>" : ""
      }</tr>`
    ).join("");
    return `<table style="border-collapse:collapse"><caption style="text-align:left"><b>Model: ${
      escape(name)
    }</b></caption><thead>${head}</thead><tbody>${body}</tbody><tfoot style="border-top:1px solid #999">${foot}</tfoot></table>`;
  };

  return {
    name,
    rows,
    totalParams: total,
    trainableParams: trainable,
    nonTrainableParams: total - trainable,
    toString: text,
    [Symbol.for("Jupyter.display")]: () => ({ "text/html": htmlTable(), "text/plain": text() }),
    [Symbol.for("Deno.customInspect")]: text,
  };
}
