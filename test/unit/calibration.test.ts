import { describe, expect, it } from "vitest";
import { applyLogistic, fitLogistic, percentile, rocAuc, thresholdForFpr, tprAtFpr } from "../../lib/calibration.js";

describe("calibration and metrics", () => {
    it("fits Platt scaling (one feature) that orders and separates overlapping classes", () => {
        const raw = [-4, -3, -2.5, -2, 0.5, -0.5, 2, 2.5, 3, 4];
        const positive = [false, false, false, false, false, true, true, true, true, true];
        const model = fitLogistic(raw.map((x) => [x]), positive);
        expect(model.weights[0]).toBeGreaterThan(0);
        expect(applyLogistic(model, [-4])).toBeLessThan(0.1);
        expect(applyLogistic(model, [4])).toBeGreaterThan(0.9);
        expect(applyLogistic(model, [0])).toBeCloseTo(0.5, 1);
    });

    it("weighs a second feature by how much it separates, and survives a constant one", () => {
        const rows = Array.from({ length: 40 }, (_, i) => ({ noise: Math.sin(i * 7.3), signal: i < 20 ? -1 - (i % 3) : 1 + (i % 3), pos: i >= 20 }));
        const flip = (i: number) => i % 10 === 0;
        const positive = rows.map((r, i) => flip(i) ? !r.pos : r.pos);
        const model = fitLogistic(rows.map((r) => [r.noise, r.signal]), positive);
        expect(Math.abs(model.weights[1]!)).toBeGreaterThan(Math.abs(model.weights[0]!));
        const constant = fitLogistic(rows.map((r) => [r.signal, 0]), positive);
        expect(Number.isFinite(constant.weights[1]!)).toBe(true);
        expect(constant.weights[1]).toBeCloseTo(0, 6);
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
