import { describe, expect, it } from "vitest";
import { applyPlatt, fitPlatt, percentile, rocAuc, thresholdForFpr, tprAtFpr } from "../../lib/calibration.js";

describe("calibration and metrics", () => {
    it("fits Platt scaling that orders and separates the classes", () => {
        const raw = [-4, -3, -2.5, -2, -1, 1, 2, 2.5, 3, 4];
        const positive = raw.map((x) => x > 0);
        const platt = fitPlatt(raw, positive);
        expect(platt.a).toBeGreaterThan(0);
        expect(applyPlatt(platt, -4)).toBeLessThan(0.1);
        expect(applyPlatt(platt, 4)).toBeGreaterThan(0.9);
        expect(applyPlatt(platt, 0)).toBeCloseTo(0.5, 1);
    });

    it("computes AUC with ties counted half", () => {
        expect(rocAuc([0.9, 0.8, 0.1, 0.2], [true, true, false, false])).toBe(1);
        expect(rocAuc([0.1, 0.2, 0.9, 0.8], [true, true, false, false])).toBe(0);
        expect(rocAuc([0.5, 0.5], [true, false])).toBe(0.5);
    });

    it("picks the lowest threshold whose false-positive rate stays within the target", () => {
        const negatives = Array.from({ length: 100 }, (_, i) => i / 100);
        const scores = [...negatives, 0.995, 0.5];
        const positive = [...negatives.map(() => false), true, true];
        const threshold = thresholdForFpr(scores, positive, 0.01);
        const falsePositives = negatives.filter((s) => s >= threshold).length;
        expect(falsePositives).toBeLessThanOrEqual(1);
        expect(threshold).toBeGreaterThan(0.98);
        expect(tprAtFpr(scores, positive, 0.01)).toBe(0.5);
    });

    it("interpolates percentiles", () => {
        expect(percentile([1, 2, 3, 4, 5], 50)).toBe(3);
        expect(percentile([10, 20], 95)).toBeCloseTo(19.5);
        expect(Number.isNaN(percentile([], 50))).toBe(true);
    });
});
