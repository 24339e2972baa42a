/**
 * `headline(text)`: a chapter's headline result ("test accuracy 97.76%",
 * "5 of 5 exercises pass"), shown in the notebook and picked up by
 * `deno task report` for the report index (`reports/index.html`), beside the
 * chapter's run time.
 *
 * The convention: an output whose mime bundle carries
 * {@linkcode HEADLINE_MIME} (`{ "text": "..." }`) is a headline; the report
 * index shows every headline of a notebook, in order. Front ends ignore the
 * custom mime type and render the `text/html` part.
 *
 * @example
 * ```ts
 * import { headline } from "./headline.ts";
 * console.log(String(headline("test accuracy 97.76%"))); // "Result: test accuracy 97.76%"
 * ```
 *
 * @module
 */
import { type Displayable, displayable, DisplayInputError, escapeHtml } from "./displayable.ts";

/** The mime type that marks an output as a chapter's headline result. */
export const HEADLINE_MIME = "application/vnd.tfjs-notebooks.headline+json";

/** Longest headline kept (the index shows one line per chapter). */
export const HEADLINE_MAX = 200;

/**
 * A headline result: shown as a bold "Result:" line, and listed by the
 * report index beside the chapter. `text` is plain text (one line).
 */
export function headline(text: string): Displayable {
  if (typeof text !== "string" || text.trim() === "") {
    throw new DisplayInputError(
      `headline(text): expected a non-empty string such as "test accuracy 97.76%", got ${
        typeof text === "string" ? "an empty string" : typeof text
      }`,
    );
  }
  const line = text.replace(/\s+/g, " ").trim().slice(0, HEADLINE_MAX);
  const summary = `Result: ${line}`;
  return displayable(() => ({
    [HEADLINE_MIME]: { text: line },
    "text/html": `<p class="tfjs-nb-headline" style="font-size:1.1em;margin:4px 0">` +
      `<b>Result:</b> ${escapeHtml(line)}</p>`,
    "text/plain": summary,
  }), summary);
}
