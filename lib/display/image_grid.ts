/**
 * A grid of small grayscale images (MNIST digits) with their labels and
 * predictions; wrong predictions are captioned in red. Each image is an inline
 * PNG data URL (see `png.ts`): no plotly, no network.
 *
 * @example
 * ```ts
 * import { imageGrid } from "./image_grid.ts";
 * const images = new Uint8Array(4 * 784).map((_, i) => (i * 7) % 256);
 * console.log(String(imageGrid(images, { labels: [1, 2, 3, 4], predictions: [1, 2, 5, 4] })));
 * ```
 *
 * @module
 */
import { type Displayable, displayable, DisplayInputError, escapeHtml } from "./displayable.ts";
import { encodeGrayPng, pngDataUrl } from "./png.ts";

/** Options of {@linkcode imageGrid}. */
export interface ImageGridOptions {
  labels?: ArrayLike<number>;
  predictions?: ArrayLike<number>;
  classNames?: string[];
  /** Images per row (default 8). */
  columns?: number;
  /** Side of each square image in pixels (default 28). */
  size?: number;
  /** How many images to show, from the first (default all, at most 64). */
  count?: number;
}

/** Grayscale bytes of image `i`: Uint8Array as is, Float32Array scaled from [0, 1]. */
function imageBytes(images: Uint8Array | Float32Array, i: number, area: number): Uint8Array {
  const part = images.subarray(i * area, (i + 1) * area);
  if (part instanceof Uint8Array) return part;
  const out = new Uint8Array(area);
  for (let j = 0; j < area; j++) out[j] = Math.round(Math.min(1, Math.max(0, part[j] || 0)) * 255);
  return out;
}

/** Caption font size in pixels (monospace). */
export const CAPTION_FONT_PX = 11;

/**
 * The width in pixels that a caption line needs in an 11 px monospace font:
 * 0.6 em per character (monospace fonts' advance is 0.5-0.6 em), plus 2 px.
 */
export function captionWidth(line: string): number {
  return Math.ceil([...line].length * CAPTION_FONT_PX * 0.6) + 2;
}

/** Digits in a grid, captioned "label" or "label → prediction" (red when wrong). */
export function imageGrid(
  images: Uint8Array | Float32Array,
  opts: ImageGridOptions = {},
): Displayable {
  if (!(images instanceof Uint8Array) && !(images instanceof Float32Array)) {
    throw new DisplayInputError(
      "imageGrid(images): expected a Uint8Array (0..255) or Float32Array ([0, 1]) of " +
        "count*size*size pixels, e.g. dataset.images",
    );
  }
  const size = opts.size ?? 28;
  const area = size * size;
  if (!Number.isInteger(size) || size < 1 || images.length % area !== 0 || images.length === 0) {
    throw new DisplayInputError(
      `imageGrid(images): ${images.length} pixels is not a whole number of ${size}x${size} images; ` +
        `pass opts.size when the images are not 28x28`,
    );
  }
  const total = images.length / area;
  const count = Math.min(total, opts.count ?? Math.min(total, 64));
  const columns = Math.max(1, Math.min(opts.columns ?? 8, count));
  const { labels, predictions, classNames } = opts;
  for (const [name, arr] of [["labels", labels], ["predictions", predictions]] as const) {
    if (arr && arr.length < count) {
      throw new DisplayInputError(
        `imageGrid: ${arr.length} ${name} for ${count} images; pass one per image (or opts.count)`,
      );
    }
  }
  const nameOf = (c: number) => classNames?.[c] ?? String(c);
  const px = Math.max(size * 2, 48);
  // Each column is as wide as its longest caption line (class names such as
  // "Ankle boot"), so that no caption is cut; a wrong prediction's "→ name"
  // goes on its own line.
  const lines: string[][] = [];
  for (let i = 0; i < count; i++) {
    if (labels && predictions) {
      lines.push(
        labels[i] === predictions[i]
          ? [nameOf(labels[i])]
          : [nameOf(labels[i]), `→ ${nameOf(predictions[i])}`],
      );
    } else if (labels) lines.push([nameOf(labels[i])]);
    else if (predictions) lines.push([`pred ${nameOf(predictions[i])}`]);
    else lines.push([]);
  }
  const col = Math.max(px, ...lines.flat().map(captionWidth));
  let wrong = 0;
  const cells: string[] = [];
  const captions: string[] = [];
  for (let i = 0; i < count; i++) {
    const url = pngDataUrl(encodeGrayPng(imageBytes(images, i, area), size, size));
    let caption = "";
    let color = "#333";
    if (labels && predictions) {
      const ok = labels[i] === predictions[i];
      if (!ok) wrong++, color = "#d62728";
      caption = ok ? nameOf(labels[i]) : `${nameOf(labels[i])} → ${nameOf(predictions[i])}`;
    } else if (labels) caption = nameOf(labels[i]);
    else if (predictions) caption = `pred ${nameOf(predictions[i])}`;
    captions.push(caption);
    cells.push(
      `<figure style="margin:2px;text-align:center;width:${col}px">` +
        `<img src="${url}" width="${px}" height="${px}" alt="${
          escapeHtml(caption || `image ${i}`)
        }" ` +
        `style="image-rendering:pixelated;border:1px solid #ddd"/>` +
        (caption
          ? `<figcaption style="font:${CAPTION_FONT_PX}px monospace;color:${color};` +
            `white-space:nowrap">${lines[i].map(escapeHtml).join("<br>")}</figcaption>`
          : "") +
        `</figure>`,
    );
  }
  const summary = `image grid: ${count} of ${total} images ${size}x${size}` +
    (labels && predictions ? `, ${wrong} wrong` : "") +
    (captions.some((c) => c) ? `; ${captions.join(", ")}` : "");
  const markup = `<div class="tfjs-nb-image-grid" style="display:grid;grid-template-columns:` +
    `repeat(${columns}, ${col + 6}px);gap:2px">${cells.join("")}</div>`;
  return displayable(() => ({ "text/html": markup, "text/plain": summary }), summary);
}
