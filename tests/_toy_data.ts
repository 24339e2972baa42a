/**
 * A learnable toy image set for training tests: class c is a bright 7x5 block at
 * one of ten places on seeded noise, so a small model learns it in a few steps.
 *
 * @module
 */
import { Dataset } from "../lib/data/mod.ts";

/** `count` seeded 28x28 images and their labels (the same seed, the same set). */
export function squares(count: number, seed: number): Dataset {
  let s = seed >>> 0;
  const rand = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const labels = new Uint8Array(count);
  const images = new Uint8Array(count * 784);
  for (let i = 0; i < count; i++) {
    const c = Math.floor(rand() * 10);
    labels[i] = c;
    const r0 = 2 + 12 * Math.floor(c / 5);
    const c0 = 1 + 5 * (c % 5);
    for (let p = 0; p < 784; p++) images[i * 784 + p] = Math.floor(rand() * 60);
    for (let r = r0; r < r0 + 7; r++) {
      for (let q = c0; q < c0 + 5; q++) {
        images[i * 784 + r * 28 + q] = 200 + Math.floor(rand() * 55);
      }
    }
  }
  return new Dataset(images, labels, { name: "squares" });
}
