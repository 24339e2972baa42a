/**
 * Draws a {@linkcode Graph} as a pure SVG image (no scripts, no network): a
 * layered layout of the DAG, top to bottom, one box per op with its type, name
 * and output shape, arrows for data edges and dashed arrows for control edges.
 *
 * @example
 * ```ts
 * import { Graph } from "./graph.ts";
 * import { matMul, placeholder, relu } from "./ops.ts";
 * import { graphToSvg } from "./draw.ts";
 * const g = new Graph();
 * g.asDefault(() => relu(matMul(placeholder("float32", [null, 2], "x"), [[1], [2]])));
 * console.log(graphToSvg(g).slice(0, 4)); // "<svg"
 * ```
 *
 * @module
 */
import { type Displayable, svg } from "../display/mod.ts";
import { formatShape, type Graph, type Operation, type SymbolicTensor } from "./graph.ts";
import { neededOps } from "./session.ts";
import type { Variable } from "./variables.ts";

/** Options for {@linkcode drawGraph}. */
export interface DrawOptions {
  /** Draw only the ops these tensors/ops need (default: the whole graph). */
  fetches?: (SymbolicTensor | Operation)[];
  /** Hide variables' initializers and the `init` op (default true). */
  hideInitializers?: boolean;
  /** A title above the drawing. */
  title?: string;
}

const COLORS: Record<string, string> = {
  Placeholder: "#dbeafe",
  VariableV2: "#dcfce7",
  ReadVariableOp: "#dcfce7",
  Const: "#f3f4f6",
  If: "#ffedd5",
  StatelessIf: "#ffedd5",
  While: "#ffedd5",
  StatelessWhile: "#ffedd5",
  Assign: "#fce7f3",
  AssignSub: "#fce7f3",
  AssignAdd: "#fce7f3",
  NoOp: "#fce7f3",
  Print: "#fef9c3",
};

const esc = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

function label(op: Operation): string[] {
  const lines = [op.type];
  if (op.name !== op.type) lines.push(op.name.length > 32 ? `…${op.name.slice(-31)}` : op.name);
  if (op.outputs.length > 0) {
    lines.push(op.outputs.map((t) => `${formatShape(t.shape)} ${t.dtype}`).join(", "));
  }
  return lines;
}

/** Pixels a character of the 12 px box text may take (monospace: at most 0.6 em). */
export const TEXT_CHAR_PX = 7.3;
/** The title's font size; its characters take at most 0.6 of it. */
export const TITLE_FONT_PX = 14;

/** The width in pixels that `title` needs: the drawing is made at least this wide. */
export function titleWidth(title: string): number {
  return Math.ceil([...title].length * TITLE_FONT_PX * 0.6) + 4;
}

/** The ops to draw, in graph order. */
function visibleOps(g: Graph, opts: DrawOptions): Operation[] {
  let list = opts.fetches ? neededOps(opts.fetches) : g.operations;
  if (opts.hideInitializers ?? true) {
    const hidden = new Set<Operation>();
    for (const v of g.variables as Variable[]) {
      hidden.add(v.initializer);
      hidden.add(v.initialValue.op);
    }
    for (const op of g.operations) {
      if (
        op.type === "NoOp" && op.controlInputs.length > 0 &&
        op.controlInputs.every((c) => hidden.has(c))
      ) {
        hidden.add(op);
      }
    }
    list = list.filter((op) => !hidden.has(op));
  }
  return list;
}

/** The SVG markup of `g` (see {@linkcode drawGraph} for a displayable image). */
export function graphToSvg(g: Graph, opts: DrawOptions = {}): string {
  const ops = visibleOps(g, opts);
  const shown = new Set(ops);
  const preds = new Map<Operation, { from: Operation; control: boolean }[]>();
  for (const op of ops) {
    preds.set(
      op,
      [
        ...op.inputs.map((t) => ({ from: t.op, control: false })),
        ...op.controlInputs.map((c) => ({ from: c, control: true })),
      ].filter((e) => shown.has(e.from)),
    );
  }

  // Layers: the longest path from a source (ops come in a valid order already).
  const layer = new Map<Operation, number>();
  for (const op of ops) {
    layer.set(op, Math.max(-1, ...preds.get(op)!.map((e) => layer.get(e.from)!)) + 1);
  }
  // Constants sit just above their first consumer rather than at the top.
  for (const op of ops) {
    if (op.type !== "Const") continue;
    const users = ops.filter((u) => preds.get(u)!.some((e) => e.from === op));
    if (users.length) layer.set(op, Math.max(0, Math.min(...users.map((u) => layer.get(u)!)) - 1));
  }
  const layers: Operation[][] = [];
  for (const op of ops) (layers[layer.get(op)!] ??= []).push(op);

  // Order each layer by the mean position of its predecessors (fewer crossings).
  const pos = new Map<Operation, number>();
  for (const row of layers) {
    const key = (op: Operation): number => {
      const ps = preds.get(op)!.map((e) => pos.get(e.from)!);
      return ps.length ? ps.reduce((a, b) => a + b, 0) / ps.length : -1;
    };
    row.sort((a, b) => key(a) - key(b));
    row.forEach((op, i) => pos.set(op, i / Math.max(1, row.length - 1)));
  }

  // Geometry: boxes sized to their text, rows centred.
  // Monospace glyphs advance 0.5-0.6 em: 12 px text needs up to 7.2 px a character.
  const charW = TEXT_CHAR_PX, lineH = 15, gapX = 22, gapY = 44, pad = 20;
  const box = new Map<Operation, { x: number; y: number; w: number; h: number; lines: string[] }>();
  const rowH = 3 * lineH + 10;
  const widths = layers.map((row) =>
    row.reduce(
      (s, op) => s + Math.max(70, ...label(op).map((l) => l.length * charW + 16)) + gapX,
      -gapX,
    )
  );
  const titleW = opts.title ? titleWidth(opts.title) : 0;
  const width = Math.max(200, titleW, ...widths) + 2 * pad;
  const top = pad + (opts.title ? 26 : 0);
  layers.forEach((row, li) => {
    let x = (width - widths[li]) / 2;
    for (const op of row) {
      const lines = label(op);
      const w = Math.max(70, ...lines.map((l) => l.length * charW + 16));
      box.set(op, { x, y: top + li * (rowH + gapY), w, h: lines.length * lineH + 10, lines });
      x += w + gapX;
    }
  });
  const height = top + layers.length * (rowH + gapY) - gapY + pad;

  const parts: string[] = [];
  for (const op of ops) {
    const b = box.get(op)!;
    for (const e of preds.get(op)!) {
      const a = box.get(e.from)!;
      const [x1, y1, x2, y2] = [a.x + a.w / 2, a.y + a.h, b.x + b.w / 2, b.y - 2];
      const mid = (y1 + y2) / 2;
      parts.push(
        `<path d="M${x1},${y1} C${x1},${mid} ${x2},${mid} ${x2},${y2}" fill="none" ` +
          `stroke="${e.control ? "#9ca3af" : "#4b5563"}"${
            e.control ? ' stroke-dasharray="4 3"' : ""
          } ` +
          `marker-end="url(#arrow)"/>`,
      );
    }
  }
  for (const op of ops) {
    const b = box.get(op)!;
    parts.push(
      `<g><title>${esc(op.name)} (${esc(op.type)})</title>` +
        `<rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="6" ` +
        `fill="${COLORS[op.type] ?? "#ffffff"}" stroke="#374151"/>` +
        b.lines.map((l, i) =>
          `<text x="${b.x + b.w / 2}" y="${b.y + 17 + i * lineH}" text-anchor="middle"` +
          `${i === 0 ? ' font-weight="bold"' : ' fill="#374151"'}>${esc(l)}</text>`
        ).join("") + `</g>`,
    );
  }
  const title = opts.title
    ? `<text x="${pad}" y="${pad + 6}" font-size="${TITLE_FONT_PX}" font-weight="bold">${
      esc(opts.title)
    }</text>`
    : "";
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.ceil(width)}" ` +
    `height="${Math.ceil(height)}" viewBox="0 0 ${Math.ceil(width)} ${Math.ceil(height)}" ` +
    `font-family="Menlo, Consolas, monospace" font-size="12">` +
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" ` +
    `markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#4b5563"/></marker></defs>` +
    `<rect width="100%" height="100%" fill="#ffffff"/>${title}${parts.join("")}</svg>`;
}

/** `g` drawn as an SVG image that renders in a notebook (and offline in HTML reports). */
export function drawGraph(g: Graph, opts: DrawOptions = {}): Displayable {
  return svg(graphToSvg(g, opts));
}
