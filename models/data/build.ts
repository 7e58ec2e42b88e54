/**
 * Builds models/data/mcp-fba/{train,test,dpo,dpo-validation}.jsonl from the hand-written seeds in seeds/*.jsonl:
 * every seed is a family; families are split (stratified by label, category and form) so that no
 * variant of a test seed is in train; train families get augmented variants, test families fewer.
 *
 *   npx tsx models/data/build.ts
 */
import { readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseExample, readJsonl, type Example } from "../../lib/dataset.js";
import { augmentRequest, hashString, rng } from "./augment.js";
import { dpoPair } from "./dpo.js";
import { carveValidation, isValidation } from "./validation.js";
import { injectionStyles, withGuardInjection } from "./guard-injections.js";
import { toolCallOnlyView } from "../../lib/evaluate.js";
import { sizeRules } from "./stats.js";

const dataDir = path.join(import.meta.dirname, "mcp-fba");
const seedDir = path.join(dataDir, "seeds");


type Seed = Example & { seed: string };

async function readSeeds(): Promise<Seed[]> {
    const seeds: Seed[] = [];
    for (const file of readdirSync(seedDir).filter((f) => f.endsWith(".jsonl")).sort()) {
        for (const { line, value } of await readJsonl(path.join(seedDir, file))) {
            const v = value as Record<string, unknown>;
            const example = parseExample({ ...v, id: v.seed }, file, line);
            seeds.push({ ...example, seed: String(v.seed), family: String(v.seed), nearMiss: v.nearMiss === true });
        }
    }
    return seeds;
}

/** Stratified by label/category/form: in each stratum, the families with the lowest hash go to test. */
function splitFamilies(seeds: Seed[], testShare: Record<"attack" | "benign", number>): Set<string> {
    const strata = new Map<string, Seed[]>();
    for (const seed of seeds) {
        const key = `${seed.label}|${seed.category}|${seed.form}`;
        strata.set(key, [...(strata.get(key) ?? []), seed]);
    }
    const test = new Set<string>();
    for (const members of strata.values()) {
        const share = testShare[members[0]!.label];
        const count = Math.round(members.length * share);
        [...members].sort((a, b) => hashString(a.seed) - hashString(b.seed)).slice(0, count).forEach((s) => test.add(s.seed));
    }
    return test;
}

/** The seed itself plus up to `count - 1` distinct augmented variants. */
function variants(seed: Seed, count: number): Example[] {
    const r = rng(hashString(seed.seed));
    const original = JSON.stringify(seed.request);
    const seen = new Set([original]);
    const out: Example[] = [toExample(seed, original)];
    for (let attempt = 0; out.length < count && attempt < count * 6; attempt++) {
        const text = augmentRequest(original, r);
        if (!seen.has(text)) {
            seen.add(text);
            out.push(toExample(seed, text));
        }
    }
    return out;
}

function toExample(seed: Seed, requestJson: string): Example {
    const { id: _id, seed: _seed, ...rest } = seed;
    return { ...rest, id: "", request: JSON.parse(requestJson) };
}

function numbered(examples: Example[], prefix: string, salt: string): Example[] {
    return [...examples]
        .map((e, i) => ({ e, h: hashString(salt + i + JSON.stringify(e.request)) }))
        .sort((a, b) => a.h - b.h)
        .map(({ e }, i) => ({ id: `${prefix}-${String(i + 1).padStart(4, "0")}`, label: e.label, category: e.category, form: e.form,
            family: e.family, nearMiss: e.nearMiss, technique: e.technique, request: e.request }));
}

/**
 * Extra training views of the DPO rows, chosen by hash so a rebuild is stable: the tool calls alone (what an MCP
 * proxy sees when the user's words never reach it) for a fifth of the rows that have both, and a note addressed to
 * the guard (models/data/guard-injections.ts) for a tenth of all rows, attacks and benign alike, so the note is
 * evidence of neither label.
 */
function trainingViews(rows: Example[]): Example[] {
    const share = (e: Example, salt: string, percent: number) => hashString(salt + e.id) % 100 < percent;
    const toolCallOnly = rows
        .filter((e) => (e.request.toolCalls?.length ?? 0) > 0 && e.request.prompt && share(e, "view:toolcall:", 20))
        .map((e) => ({ ...toolCallOnlyView(e), id: `${e.id}-toolcall` }));
    const injected = rows.filter((e) => share(e, "view:injection:", 10)).map((e) => {
        const style = injectionStyles[hashString("style:" + e.id) % injectionStyles.length]!;
        return { ...e, id: `${e.id}-injected`, request: withGuardInjection(e.request, style, e.form) };
    });
    return [...toolCallOnly, ...injected];
}

function toJsonl(rows: unknown[]): string {
    return rows.map((row) => JSON.stringify(row)).join("\n") + "\n";
}

async function main(): Promise<void> {
    const seeds = await readSeeds();
    const testFamilies = splitFamilies(seeds, { attack: 0.17, benign: 0.22 });
    const train: Example[] = [];
    const test: Example[] = [];
    for (const label of ["attack", "benign"] as const) {
        const trainSeeds = seeds.filter((s) => s.label === label && !testFamilies.has(s.seed));
        const testSeeds = seeds.filter((s) => s.label === label && testFamilies.has(s.seed));
        const perTrain = Math.ceil((sizeRules.train[label] * 1.04) / trainSeeds.length);
        const perTest = Math.ceil((sizeRules.test[label] * 1.04) / testSeeds.length);
        trainSeeds.forEach((s) => train.push(...variants(s, perTrain)));
        testSeeds.forEach((s) => test.push(...variants(s, perTest)));
    }
    const trainRows = numbered(train, "train", "train");
    const testRows = numbered(test, "test", "test");
    writeFileSync(path.join(dataDir, "train.jsonl"), toJsonl(trainRows));
    writeFileSync(path.join(dataDir, "test.jsonl"), toJsonl(testRows));
    const dpoRows = trainRows.filter((e) => !isValidation(e));
    writeFileSync(path.join(dataDir, "dpo.jsonl"), toJsonl(dpoRows.map(dpoPair)));
    writeFileSync(path.join(dataDir, "dpo-views.jsonl"), toJsonl(trainingViews(dpoRows).map(dpoPair)));
    // The same pairs for the calibration split (as `npm run calibrate` carves it): the recipe's early stopping reads them.
    writeFileSync(path.join(dataDir, "dpo-validation.jsonl"), toJsonl(carveValidation(trainRows, 2).map(dpoPair)));
    console.log(`seeds ${seeds.length}, test families ${testFamilies.size}; train ${trainRows.length}, test ${testRows.length}`);
}

await main();
