/**
 * The TensorFlow ecosystem, in TypeScript: TensorBoard event files (summary
 * writer, `fit` callback, GraphDef export), an Estimator with checkpoints,
 * and TFX-style data validation.
 *
 * Names are listed one by one (not `export *`) so that the public surface is
 * deliberate and nothing clashes with other areas in `lib/mod.ts` (the PNG
 * encoder the Images dashboard uses is `lib/display/png.ts`).
 *
 * @module
 */
export {
  crc32c,
  decodeEvent,
  DEFAULT_HISTOGRAM_BUCKETS,
  encodeEvent,
  encodeTfRecord,
  type EventFileInfo,
  type EventFileScan,
  eventFileSummary,
  type EventRecord,
  FILE_VERSION,
  GraphDefError,
  type GraphLike,
  type GraphOpLike,
  type Histogram,
  type HistogramOptions,
  type ImageOptions,
  listEventFiles,
  makeHistogram,
  maskCrc32c,
  maskedCrc32c,
  MAX_HISTOGRAM_BUCKETS,
  readEventFile,
  readScalars,
  readTfRecords,
  type ScalarSeries,
  scanEventBytes,
  scanEventFile,
  scanTfRecords,
  SummaryFileWriter,
  summaryFileWriter,
  type SummaryImage,
  type SummaryValue,
  SummaryWriterError,
  type SummaryWriterOptions,
  tensorBoard,
  type TensorBoardCallback,
  type TensorBoardOptions,
  TfRecordError,
  type TfRecordProblem,
  type TfRecordScan,
  toGraphDef,
  unmaskCrc32c,
} from "./tensorboard/mod.ts";
export * from "./estimator.ts";
export * from "./validation/mod.ts";
