/**
 * Counts, diversity and leakage of the preference data, and the rules it must keep.
 *
 *   npm run data:stats            (prints a report; exits 1 when a rule is broken)
 *   npm run data:stats -- --json  (the same as JSON)
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadExamples, type Example } from "../../lib/dataset.js";
import { queryText } from "../../lib/prompt.js";

export const bannedWords = /\b(hack\w*|steal\w*|stole\w*|backdoor\w*|exploit\w*|malicious\w*|attacker\w*)\b/i;
/** Highest allowed lexical (TF-IDF cosine) similarity of any test example to its nearest train example. */
export const maxLeakage = 0.5;
export const sizeRules = { train: { attack: 1200, benign: 1200 }, test: { attack: 150, benign: 200 } } as const;

function countBy(examples: Example[], key: (e: Example) => string): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const e of examples)
        counts[key(e)] = (counts[key(e)] ?? 0) + 1;
    return counts;
}

function words(text: string): string[] {
    return text.toLowerCase().match(/[a-z0-9_~./-]+/g) ?? [];
}

/** Share of distinct word 4-grams among all word 4-grams of the prompts (1 = no repetition). */
export function distinct4gramShare(texts: string[]): number {
    let total = 0;
    const seen = new Set<string>();
    for (const text of texts) {
        const w = words(text);
        for (let i = 0; i + 4 <= w.length; i++, total++)
            seen.add(w.slice(i, i + 4).join(" "));
    }
    return total === 0 ? 0 : seen.size / total;
}

export function topOpenings(texts: string[], n = 5): { opening: string, count: number }[] {
    const counts = new Map<string, number>();
    for (const text of texts) {
        const opening = words(text).slice(0, 3).join(" ");
        counts.set(opening, (counts.get(opening) ?? 0) + 1);
    }
    return [...counts].sort((a, b) => b[1] - a[1]).slice(0, n).map(([opening, count]) => ({ opening, count }));
}

type SparseVector = Map<string, number>;

function tfidfVectors(texts: string[]): SparseVector[] {
    const docs = texts.map((t) => {
        const w = words(t);
        const terms = [...w, ...w.slice(1).map((x, i) => w[i] + " " + x)];
        const tf = new Map<string, number>();
        for (const term of terms)
            tf.set(term, (tf.get(term) ?? 0) + 1);
        return tf;
    });
    const df = new Map<string, number>();
    for (const doc of docs)
        for (const term of doc.keys())
            df.set(term, (df.get(term) ?? 0) + 1);
    return docs.map((doc) => {
        const v: SparseVector = new Map();
        let norm = 0;
        for (const [term, count] of doc) {
            const weight = (1 + Math.log(count)) * Math.log(1 + docs.length / df.get(term)!);
            v.set(term, weight);
            norm += weight * weight;
        }
        norm = Math.sqrt(norm) || 1;
        for (const [term, weight] of v)
            v.set(term, weight / norm);
        return v;
    });
}

/** For each test example, the TF-IDF cosine similarity to its nearest train example (on the text the guard embeds). */
export function lexicalLeakage(train: Example[], test: Example[]): { max: number, mean: number, worst: { test: string, train: string, similarity: number } } {
    const vectors = tfidfVectors([...train, ...test].map((e) => queryText(e.request)));
    const postings = new Map<string, { doc: number, weight: number }[]>();
    vectors.slice(0, train.length).forEach((v, doc) => {
        for (const [term, weight] of v) {
            if (!postings.has(term))
                postings.set(term, []);
            postings.get(term)!.push({ doc, weight });
        }
    });
    let worst = { test: "", train: "", similarity: -1 };
    let sum = 0;
    test.forEach((example, i) => {
        const dots = new Float64Array(train.length);
        for (const [term, weight] of vectors[train.length + i]!)
            for (const posting of postings.get(term) ?? [])
                dots[posting.doc]! += weight * posting.weight;
        let best = 0;
        dots.forEach((dot, j) => { if (dot > dots[best]!) best = j; });
        sum += dots[best]!;
        if (dots[best]! > worst.similarity)
            worst = { test: example.id, train: train[best]!.id, similarity: dots[best]! };
    });
    return { max: worst.similarity, mean: test.length === 0 ? 0 : sum / test.length, worst };
}

export type DataReport = ReturnType<typeof dataReport>;

export function dataReport(train: Example[], test: Example[]) {
    const all = [...train, ...test];
    const share = (examples: Example[], predicate: (e: Example) => boolean) =>
        examples.length === 0 ? 0 : examples.filter(predicate).length / examples.length;
    const byLabel = (label: string) => all.filter((e) => e.label === label);
    const prompts = all.map((e) => e.request.prompt ?? "");
    const seedPrompts = [...new Map(all.map((e) => [e.family ?? e.id, e.request.prompt ?? ""])).values()];
    return {
        counts: {
            train: countBy(train, (e) => e.label), test: countBy(test, (e) => e.label),
            byCategory: countBy(all, (e) => e.category), byForm: countBy(all, (e) => `${e.label}/${e.form}`),
            families: new Set(all.map((e) => e.family ?? e.id)).size
        },
        shares: {
            attackToolcall: share(byLabel("attack"), (e) => e.form === "toolcall"),
            attackTrade: share(byLabel("attack"), (e) => e.form === "trade"),
            benignToolcall: share(byLabel("benign"), (e) => e.form === "toolcall"),
            benignTrade: share(byLabel("benign"), (e) => e.form === "trade"),
            benignNearMiss: share(byLabel("benign"), (e) => e.nearMiss === true)
        },
        diversity: {
            distinct4gramsAll: distinct4gramShare(prompts),
            distinct4gramsSeeds: distinct4gramShare(seedPrompts),
            topOpenings: topOpenings(prompts)
        },
        leakage: lexicalLeakage(train, test)
    };
}

/** Every broken rule, in words; empty when the data keeps them all. */
export function violations(train: Example[], test: Example[], report: DataReport): string[] {
    const broken: string[] = [];
    for (const split of ["train", "test"] as const)
        for (const label of ["attack", "benign"] as const) {
            const n = report.counts[split][label] ?? 0;
            if (n < sizeRules[split][label])
                broken.push(`${split} has ${n} ${label} examples; at least ${sizeRules[split][label]} required`);
        }
    for (const [name, value] of Object.entries(report.shares))
        if (value < (name === "benignNearMiss" ? 0.3 : 0.25))
            broken.push(`share ${name} is ${value.toFixed(3)}; below the rule`);
    const ids = new Set<string>();
    for (const e of [...train, ...test]) {
        if (ids.has(e.id))
            broken.push(`duplicate id ${e.id}`);
        ids.add(e.id);
        if (e.label === "attack" && bannedWords.test(e.request.prompt ?? ""))
            broken.push(`attack ${e.id} uses a banned word: ${(e.request.prompt ?? "").match(bannedWords)![0]}`);
    }
    const trainFamilies = new Set(train.map((e) => e.family));
    for (const e of test)
        if (e.family != null && trainFamilies.has(e.family))
            broken.push(`test ${e.id} shares family ${e.family} with train`);
    if (report.leakage.max > maxLeakage)
        broken.push(`leakage ${report.leakage.max.toFixed(3)} (${report.leakage.worst.test} ~ ${report.leakage.worst.train}) exceeds ${maxLeakage}`);
    return broken;
}

function printReport(report: DataReport, broken: string[]): void {
    const pct = (x: number) => (100 * x).toFixed(1) + "%";
    console.log("counts", JSON.stringify(report.counts, null, 1));
    console.log("shares", Object.entries(report.shares).map(([k, v]) => `${k} ${pct(v)}`).join(", "));
    console.log(`diversity: distinct word 4-grams ${pct(report.diversity.distinct4gramsAll)} of all prompts, ` +
        `${pct(report.diversity.distinct4gramsSeeds)} of seed prompts`);
    console.log("top openings", report.diversity.topOpenings.map((o) => `"${o.opening}" x${o.count}`).join(", "));
    console.log(`leakage (TF-IDF cosine, test to nearest train): max ${report.leakage.max.toFixed(3)} ` +
        `(${report.leakage.worst.test} ~ ${report.leakage.worst.train}), mean ${report.leakage.mean.toFixed(3)}, limit ${maxLeakage}`);
    console.log(broken.length === 0 ? "all rules hold" : "RULES BROKEN:\n  " + broken.join("\n  "));
}

async function main(): Promise<void> {
    const dir = fileURLToPath(new URL("./mcp-fba/", import.meta.url));
    const train = await loadExamples(path.join(dir, "train.jsonl"));
    const test = await loadExamples(path.join(dir, "test.jsonl"));
    const report = dataReport(train, test);
    const broken = violations(train, test, report);
    if (process.argv.includes("--json"))
        console.log(JSON.stringify({ ...report, broken }, null, 2));
    else
        printReport(report, broken);
    process.exitCode = broken.length === 0 ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url))
    await main();
