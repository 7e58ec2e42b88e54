/** Platt scaling: P(refuse) = sigmoid(a * raw + b). */
export type Platt = { a: number, b: number };

export function sigmoid(x: number): number {
    return 1 / (1 + Math.exp(-x));
}

export function applyPlatt(platt: Platt, raw: number): number {
    return sigmoid(platt.a * raw + platt.b);
}

/** Fits Platt scaling by Newton's method on the log loss (with Platt's smoothed targets). */
export function fitPlatt(raw: number[], positive: boolean[]): Platt {
    const nPos = positive.filter(Boolean).length;
    const nNeg = positive.length - nPos;
    const target = positive.map((p) => p ? (nPos + 1) / (nPos + 2) : 1 / (nNeg + 2));
    let a = 1, b = 0;
    for (let iteration = 0; iteration < 100; iteration++) {
        let gA = 0, gB = 0, hAA = 1e-9, hAB = 0, hBB = 1e-9;
        raw.forEach((x, i) => {
            const p = sigmoid(a * x + b);
            const d = p - target[i]!;
            const w = p * (1 - p);
            gA += d * x; gB += d;
            hAA += w * x * x; hAB += w * x; hBB += w;
        });
        const det = hAA * hBB - hAB * hAB;
        const stepA = (hBB * gA - hAB * gB) / det;
        const stepB = (hAA * gB - hAB * gA) / det;
        a -= stepA; b -= stepB;
        if (Math.abs(stepA) + Math.abs(stepB) < 1e-9)
            break;
    }
    return { a, b };
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
