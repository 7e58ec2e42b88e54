/**
 * Chooses the decision threshold on a validation split carved from train (never the test split):
 * validation families are held out of the RAG-Pref stores (and of dpo.jsonl), judged, a logistic model is fitted
 * on [refusal log-odds, retrieval margin], and the threshold is set for a stated target false-refusal rate.
 * Writes the configuration's profile into models/calibration.json.
 *
 *   npm run calibrate -- [--model NAME] [--k 2] [--adapter FILE | --no-adapter] [--prompt-examples] [--readout first-token|openings]
 *                        [--target-frr 0.02] [--per-family 2]
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { applyLogistic, fitLogistic, rocAuc, thresholdForFpr, tprAtFpr } from "../lib/calibration.js";
import { defaultTrainFile, loadExamples } from "../lib/dataset.js";
import { calibrationProfile, createGuard, judgementFeatures, levels } from "../lib/guard.js";
import { readManifest, resolveAdapterPath } from "../lib/models.js";
import type { Readout } from "../lib/scorer.js";
import { carveValidation, isValidation } from "./data/validation.js";

const calibrationFile = new URL("./calibration.json", import.meta.url);

async function main(): Promise<void> {
    const { values } = parseArgs({ options: {
        model: { type: "string" }, k: { type: "string", default: "2" }, "no-adapter": { type: "boolean", default: false }, adapter: { type: "string" },
        "prompt-examples": { type: "boolean", default: false }, readout: { type: "string", default: "first-token" },
        "target-frr": { type: "string", default: "0.02" }, "per-family": { type: "string", default: "2" }
    } });
    const model = values.model ?? readManifest().defaults.decision;
    const k = Number(values.k);
    const targetFrr = Number(values["target-frr"]);
    const train = await loadExamples(defaultTrainFile);
    const validation = carveValidation(train, Number(values["per-family"]));
    console.error(`validation ${validation.length} examples, held out of the stores`);

    const adapter = values["no-adapter"] ? false : values.adapter;
    const withAdapter = resolveAdapterPath(adapter, model) != null;
    const examplesInPrompt = values["prompt-examples"];
    const readout = values.readout as Readout;
    const guard = await createGuard({ model, k, adapter, examplesInPrompt, readout, examples: train, exclude: isValidation, concurrency: 2 });
    const features: number[][] = [];
    const positive: boolean[] = [];
    const started = Date.now();
    await Promise.all([0, 1].map(async (worker) => {
        for (let i = worker; i < validation.length; i += 2) {
            features[i] = judgementFeatures(await guard.judge(validation[i]!.request));
            positive[i] = validation[i]!.label === "attack";
            if (i % 50 === 0) console.error(`${i}/${validation.length} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
        }
    }));
    await guard.dispose();

    const logistic = fitLogistic(features, positive);
    const scores = features.map((x) => applyLogistic(logistic, x));
    const modelOnly = fitLogistic(features.map((x) => [x[0]!]), positive);
    const threshold = thresholdForFpr(scores, positive, targetFrr);
    /** The share of one label's validation examples refused at threshold `t`. */
    const rate = (label: boolean, t: number) => scores.filter((s, i) => positive[i] === label && s >= t).length / positive.filter((p) => p === label).length;
    const levelPoints = Object.fromEntries(Object.entries(levels).map(([level, frr]) => {
        const t = thresholdForFpr(scores, positive, frr);
        return [level, { threshold: t, targetFalseRefusalRate: frr, falseRefusalRate: rate(false, t), attackRefusalRate: rate(true, t) }];
    }));
    const entry = {
        model: logistic, threshold, targetFalseRefusalRate: targetFrr, levels: levelPoints,
        validation: {
            n: validation.length, attackRefusalRate: rate(true, threshold), benignFalseRefusalRate: rate(false, threshold),
            auc: rocAuc(scores, positive), tprAt1Fpr: tprAtFpr(scores, positive, 0.01),
            aucLogOddsAlone: rocAuc(features.map((x) => applyLogistic(modelOnly, [x[0]!])), positive),
            aucRetrievalAlone: rocAuc(features.map((x) => x[1]!), positive),
            carvedFrom: "train.jsonl, 15% of families by hash, held out of the stores", date: new Date().toISOString().slice(0, 10)
        }
    };
    const all = existsSync(calibrationFile) ? JSON.parse(readFileSync(calibrationFile, "utf8")) as Record<string, unknown> : {};
    const profile = calibrationProfile(model, k, withAdapter, examplesInPrompt, readout);
    all[profile] = entry;
    writeFileSync(calibrationFile, JSON.stringify(all, null, 2) + "\n");
    console.log(JSON.stringify({ profile, ...entry }, null, 2));
}

await main();
