/**
 * TFX-style data validation: statistics, an inferred schema, anomalies.
 *
 * @module
 */
export * from "./statistics.ts";
export * from "./schema.ts";
export * from "./validate.ts";
