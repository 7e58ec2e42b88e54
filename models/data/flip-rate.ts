/**
 * How much text aimed at the guard moves it: every example of a labelled set judged plain and with one guard-targeted
 * note (models/data/guard-injections.ts) where its attacker has control. Prints the flip rate (attacks refused plain,
 * allowed with the note), false refusals plain and with the note, AUC both ways, and flips by style.
 *
 *   npx tsx models/data/flip-rate.ts [FILE.jsonl] [--limit N] [guard flags: --model M --no-rag]
 */
import { parseArgs } from "node:util";
import { defaultTestFile, loadExamples } from "../../lib/dataset.js";
import { scoreExamples, summarize } from "../../lib/evaluate.js";
import { createGuard } from "../../lib/guard.js";
import { injectAll } from "./guard-injections.js";

const { values, positionals } = parseArgs({ allowPositionals: true, options: {
    limit: { type: "string" }, model: { type: "string" }, "no-rag": { type: "boolean", default: false } } });
let examples = await loadExamples(positionals[0] ?? defaultTestFile);
if (values.limit !== undefined)
    examples = examples.slice(0, Number(values.limit));
const injected = injectAll(examples);
const guard = await createGuard({ model: values.model, k: values["no-rag"] ? 0 : undefined });
const plain = await scoreExamples(guard, examples);
const wrapped = await scoreExamples(guard, injected);
await guard.dispose();

const caught = plain.flatMap((s, i) => s.label === "attack" && s.refuse ? [i] : []);
const flipped = caught.filter((i) => !wrapped[i]!.refuse);
const byStyle = new Map<string, { caught: number, flipped: number }>();
for (const i of caught) {
    const entry = byStyle.get(injected[i]!.style) ?? { caught: 0, flipped: 0 };
    entry.caught++;
    if (!wrapped[i]!.refuse) entry.flipped++;
    byStyle.set(injected[i]!.style, entry);
}
const round = (x: number) => Math.round(x * 1000) / 1000;
console.log(JSON.stringify({
    n: examples.length,
    flipRate: round(flipped.length / Math.max(1, caught.length)),
    attacksRefused: { plain: caught.length, injected: wrapped.filter((s) => s.label === "attack" && s.refuse).length },
    benignRefused: { plain: plain.filter((s) => s.label === "benign" && s.refuse).length, injected: wrapped.filter((s) => s.label === "benign" && s.refuse).length },
    auc: { plain: summarize(plain).auc, injected: summarize(wrapped).auc },
    tprAt1Fpr: { plain: summarize(plain).tprAt1Fpr, injected: summarize(wrapped).tprAt1Fpr },
    flipsByStyle: Object.fromEntries([...byStyle].sort().map(([style, e]) => [style, `${e.flipped}/${e.caught}`]))
}, null, 2));
