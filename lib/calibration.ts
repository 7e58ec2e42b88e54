/**
 * The score's calibration: logistic regression over the judgement's features (the aligned model's refusal
 * log-odds, then the retrieval margin). With the log-odds alone this is Platt scaling.
 */
export type Logistic = { weights: number[], bias: number };

export function sigmoid(x: number): number {
    return 1 / (1 + Math.exp(-x));
}

export function applyLogistic(model: Logistic, features: number[]): number {
    return sigmoid(model.weights.reduce((sum, w, i) => sum + w * (features[i] ?? 0), model.bias));
}

/** Solves the small symmetric system `h x = g` by Gaussian elimination. */
function solve(h: number[][], g: number[]): number[] {
    const n = g.length;
    const a = h.map((row, i) => [...row, g[i]!]);
    for (let col = 0; col < n; col++) {
        const pivot = a.slice(col).reduce((best, row, i) => Math.abs(row[col]!) > Math.abs(a[best]![col]!) ? col + i : best, col);
        [a[col], a[pivot]] = [a[pivot]!, a[col]!];
        for (let row = 0; row < n; row++) {
            if (row === col) continue;
            const f = a[row]![col]! / a[col]![col]!;
            for (let k = col; k <= n; k++) a[row]![k]! -= f * a[col]![k]!;
        }
    }
    return a.map((row, i) => row[n]! / row[i]!);
}

/**
 * Fits the calibration by Newton's method on the log loss, with Platt's smoothed targets and a small
 * ridge penalty so that a constant feature (no retrieval) cannot diverge.
 */
export function fitLogistic(features: number[][], positive: boolean[], ridge = 1e-3): Logistic {
    const nPos = positive.filter(Boolean).length;
    const nNeg = positive.length - nPos;
    const target = positive.map((p) => p ? (nPos + 1) / (nPos + 2) : 1 / (nNeg + 2));
    const dims = features[0]?.length ?? 0;
    let theta = new Array<number>(dims + 1).fill(0);
    for (let iteration = 0; iteration < 100; iteration++) {
        const g = theta.map((t, j) => j < dims ? ridge * t : 0);
        const h = theta.map((_, j) => theta.map((__, k) => j === k && j < dims ? ridge : 0));
        features.forEach((x, i) => {
            const row = [...x, 1];
            const p = sigmoid(row.reduce((sum, v, j) => sum + v * theta[j]!, 0));
            const d = p - target[i]!;
            const w = Math.max(p * (1 - p), 1e-12);
            row.forEach((vj, j) => {
                g[j]! += d * vj;
                row.forEach((vk, k) => { h[j]![k]! += w * vj * vk; });
            });
        });
        const step = solve(h, g);
        theta = theta.map((t, j) => t - step[j]!);
        if (step.reduce((sum, v) => sum + Math.abs(v), 0) < 1e-9)
            break;
    }
    return { weights: theta.slice(0, dims), bias: theta[dims]! };
}

/** Area under the ROC curve (ties count half). */
export function rocAuc(scores: number[], positive: boolean[]): number {
    const pos = scores.filter((_, i) => positive[i]);
    const neg = scores.filter((_, i) => !positive[i]);
    if (pos.length === 0 || neg.length === 0)
        return NaN;
    const sortedNeg = [...neg].sort((x, y) => x - y);
    let wins = 0;
    for (const p of pos) {
        const below = lowerBound(sortedNeg, p);
        const equal = lowerBound(sortedNeg, p, true) - below;
        wins += below + equal / 2;
    }
    return wins / (pos.length * neg.length);
}

function lowerBound(sorted: number[], value: number, inclusive = false): number {
    let lo = 0, hi = sorted.length;
    while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (inclusive ? sorted[mid]! <= value : sorted[mid]! < value) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/**
 * The lowest threshold whose false-positive rate on the negatives is at most `maxFpr`
 * (a decision refuses when score >= threshold).
 */
export function thresholdForFpr(scores: number[], positive: boolean[], maxFpr: number): number {
    const neg = scores.filter((_, i) => !positive[i]).sort((x, y) => y - x);
    const allowed = Math.floor(maxFpr * neg.length);
    const boundary = neg[allowed];
    if (boundary === undefined)
        return 0;
    return nextUp(boundary);
}

function nextUp(x: number): number {
    return x + Math.max(Math.abs(x) * 1e-12, Number.MIN_VALUE);
}

/** True-positive rate at the threshold that allows at most `maxFpr` false positives. */
export function tprAtFpr(scores: number[], positive: boolean[], maxFpr: number): number {
    const threshold = thresholdForFpr(scores, positive, maxFpr);
    const pos = scores.filter((_, i) => positive[i]);
    return pos.length === 0 ? NaN : pos.filter((s) => s >= threshold).length / pos.length;
}

export function percentile(values: number[], p: number): number {
    if (values.length === 0)
        return NaN;
    const sorted = [...values].sort((x, y) => x - y);
    const rank = (p / 100) * (sorted.length - 1);
    const lo = Math.floor(rank), hi = Math.ceil(rank);
    return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}
