#!/usr/bin/env node
import { readFile, writeFile } from "node:fs/promises";
import { Command, Option } from "commander";
import cliProgress from "cli-progress";
import { loadLabelledRequests, DatasetError } from "./dataset.js";
import { generateExamples, toolCallOnlyView, scoreExamples, summarize, summarizeGenerative } from "./evaluate.js";
import { createGuard, type Decision, type GuardOptions, type Level } from "./guard.js";
import { ensureModel, readManifest } from "./models.js";
import { getBackendInfo } from "./native.js";
import type { Progress } from "./model-sources.js";
import { parseRequest, RequestValidationError } from "./request.js";

/** Exit codes of the contract. */
const exit = { allow: 0, internal: 1, badInput: 2, refuse: 3 } as const;

class BadInput extends Error {}

/** A progress bar on stderr when it is a terminal; one line per stage otherwise. */
function progressReporter(): Progress & { stop(): void } {
    const interactive = process.stderr.isTTY === true;
    let bar: cliProgress.SingleBar | undefined;
    let label = "";
    const report = (event: Parameters<Progress>[0]) => {
        if (event.label !== label) {
            bar?.stop();
            label = event.label;
            if (interactive) {
                bar = new cliProgress.SingleBar({ format: `${label} [{bar}] {percentage}% {value}/{total}`, stream: process.stderr },
                    cliProgress.Presets.shades_classic);
                bar.start(event.total ?? 0, 0);
            } else {
                process.stderr.write(`mcpguard: ${label}...\n`);
            }
        }
        if (event.total != null)
            bar?.setTotal(event.total);
        bar?.update(event.done);
    };
    return Object.assign(report, { stop: () => bar?.stop() });
}

type GuardFlags = { model?: string, k?: string, rag?: boolean, adapter?: boolean, promptExamples?: boolean, threshold?: string, level?: Level,
    retrieval?: "native" | "hnswlib", readout?: "first-token" | "openings" };

function guardOptions(flags: GuardFlags, onProgress: Progress): GuardOptions {
    const number = (value: string | undefined, name: string) => {
        if (value === undefined) return undefined;
        const parsed = Number(value);
        if (!Number.isFinite(parsed)) throw new BadInput(`--${name} must be a number, got "${value}"`);
        return parsed;
    };
    return {
        model: flags.model,
        k: flags.rag === false ? 0 : number(flags.k, "k"),
        adapter: flags.adapter === false ? false : undefined,
        examplesInPrompt: flags.promptExamples,
        retrieval: flags.retrieval,
        readout: flags.readout,
        threshold: number(flags.threshold, "threshold"),
        level: flags.level,
        onProgress
    };
}

async function readInput(file: string | undefined): Promise<unknown> {
    let text: string;
    try {
        text = file === undefined || file === "-" ? await readStdin() : await readFile(file, "utf8");
    } catch (err) {
        throw new BadInput(`cannot read ${file}: ${(err as Error).message}`);
    }
    try {
        return JSON.parse(text);
    } catch (err) {
        throw new BadInput(`request is not valid JSON: ${(err as Error).message}`);
    }
}

async function readStdin(): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin)
        chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
}

function describeDecision(decision: Decision): string {
    const verdict = decision.refuse ? `REFUSE (${decision.category})` : "ALLOW";
    const lines = [`${verdict}  score ${decision.score.toFixed(3)}, threshold ${decision.threshold.toFixed(3)}, ${decision.timings.totalMs.toFixed(0)} ms`];
    for (const e of decision.evidence)
        lines.push(`  ${e.label.padEnd(6)} ${e.category.padEnd(7)} d=${e.distance.toFixed(3)}  ${e.id}  ${e.excerpt.replace(/\s+/g, " ").slice(0, 90)}`);
    return lines.join("\n");
}

async function check(file: string | undefined, flags: GuardFlags & { json?: boolean }): Promise<number> {
    const request = parseRequest(await readInput(file));
    const progress = progressReporter();
    const guard = await createGuard(guardOptions(flags, progress));
    progress.stop();
    try {
        const decision = await guard.shouldRefuse(request);
        console.log(flags.json ? JSON.stringify(decision, null, 2) : describeDecision(decision));
        return decision.refuse ? exit.refuse : exit.allow;
    } finally {
        await guard.dispose();
    }
}

async function evaluate(file: string, flags: GuardFlags & { json?: boolean, limit?: string, concurrency?: string, view?: string, generative?: string,
    scores?: string }): Promise<number> {
    let examples = await loadLabelledRequests(file).catch((err: Error) => { throw new BadInput(err.message); });
    if (flags.limit !== undefined)
        examples = examples.slice(0, Number(flags.limit));
    if (flags.view === "toolcall-only")
        examples = examples.filter((e) => (e.request.toolCalls?.length ?? 0) > 0).map(toolCallOnlyView);
    const samples = flags.generative === undefined ? 0 : Number(flags.generative);
    if (flags.generative !== undefined && !(Number.isInteger(samples) && samples >= 1 && samples <= 100))
        throw new BadInput(`--generative must be an integer from 1 to 100, got "${flags.generative}"`);
    const progress = progressReporter();
    const guard = await createGuard(guardOptions(flags, progress));
    try {
        if (samples > 0) {
            const judged = await generateExamples(guard, examples, samples, (done, total) => progress({ label: `sampling ${file}`, done, total }));
            progress.stop();
            const summary = { ...summarize(judged), generative: summarizeGenerative(judged) };
            console.log(flags.json ? JSON.stringify(summary) : JSON.stringify(summary, null, 2));
            return exit.allow;
        }
        const scored = await scoreExamples(guard, examples, Number(flags.concurrency ?? 1),
            (done, total) => progress({ label: `judging ${file}`, done, total }));
        progress.stop();
        if (flags.scores != null)
            await writeFile(flags.scores, scored.map((s) => JSON.stringify(s)).join("\n") + "\n");
        const summary = summarize(scored);
        if (flags.json)
            console.log(JSON.stringify(summary));
        else
            console.log(`n ${summary.n}: attacks refused ${summary.attack.refused}/${summary.attack.n} (${summary.attack.rate}), ` +
                `benign refused ${summary.benign.refused}/${summary.benign.n} (${summary.benign.rate}), AUC ${summary.auc}, ` +
                `TPR@1%FPR ${summary.tprAt1Fpr}, latency p50 ${summary.latencyMs.p50} ms, p95 ${summary.latencyMs.p95} ms`);
        return exit.allow;
    } finally {
        await guard.dispose();
    }
}

async function fetchModels(names: string[]): Promise<number> {
    const manifest = readManifest();
    const wanted = names.length > 0 ? names : [manifest.defaults.decision, manifest.defaults.embedder];
    const progress = progressReporter();
    for (const name of wanted) {
        const file = await ensureModel(name, progress);
        progress.stop();
        console.log(`${name}: ${file}`);
    }
    return exit.allow;
}

async function buildNative(cuda: true | undefined): Promise<number> {
    // Plain JavaScript shared with the install hook, which runs before TypeScript is built.
    const builder = await import(new URL("../scripts/native-build.mjs", import.meta.url).href) as { runCmakeJs: (command: string, options: { cuda?: boolean }) => number };
    const status = builder.runCmakeJs("compile", { cuda });
    if (status !== 0)
        throw new Error(`cmake-js compile exited with ${status}; see its output above`);
    const info = getBackendInfo();
    console.log(`mcpguard: built ${info.file} (CPU kernels ${info.simd}; CUDA: ${info.cudaAvailable ? "available" : info.cudaUnavailableReason})`);
    return exit.allow;
}

function withGuardFlags(command: Command): Command {
    return command
        .option("--model <name|path|uri>", "decision model (manifest name, GGUF path or hub URI)")
        .option("--k <n>", "examples retrieved per label")
        .option("--no-rag", "switch RAG-Pref retrieval off")
        .option("--no-adapter", "switch the DPO adapter off")
        .option("--prompt-examples", "put the retrieved examples into the model's prompt (RAG-Pref in context)")
        .option("--no-prompt-examples", "retrieve examples as evidence only; the prompt holds the request alone")
        .option("--threshold <p>", "refuse when score >= p")
        .addOption(new Option("--level <level>", "a calibrated operating point instead of a threshold").choices(["strict", "balanced", "permissive"]))
        .addOption(new Option("--readout <kind>", "read the first reply token (default) or teacher-force both openings").choices(["first-token", "openings"]))
        .addOption(new Option("--retrieval <engine>", "exact native store (default) or approximate hnswlib (reference)").choices(["native", "hnswlib"]));
}

function exitCodeFor(err: unknown): number {
    if (err instanceof BadInput || err instanceof RequestValidationError || err instanceof DatasetError || err instanceof RangeError)
        return exit.badInput;
    return exit.internal;
}

export async function main(argv: string[]): Promise<number> {
    let code: number = exit.allow;
    const program = new Command("mcpguard").description("Judge MCP agent requests for falsely benign attacks").exitOverride();
    const run = (action: () => Promise<number>) => action().then((c) => { code = c; });

    withGuardFlags(program.command("check [file]").description("judge one request (JSON file, or - for stdin)"))
        .option("--json", "print the decision as JSON")
        .action((file: string | undefined, flags) => run(() => check(file, flags)));
    withGuardFlags(program.command("eval <file>").description("judge every line of a labelled JSONL set"))
        .option("--json", "print the summary as one JSON object")
        .option("--limit <n>", "judge only the first n lines")
        .option("--scores <file>", "also write each request's id, label, score and decision as JSON lines")
        .option("--concurrency <n>", "requests judged at once", "1")
        .option("--generative <n>", "also sample n replies a request at temperature 0.7 and print the paper's strict, majority and mean rates")
        .addOption(new Option("--view <view>", "full requests, or only what an MCP proxy sees").choices(["full", "toolcall-only"]).default("full"))
        .action((file: string, flags) => run(() => evaluate(file, flags)));
    program.command("models").description("manage models").command("fetch [names...]")
        .description("fetch and verify models into MCPGUARD_HOME (default: the default decision model and embedder)")
        .action((names: string[]) => run(() => fetchModels(names)));
    program.command("build").description("build the native addon from source with cmake-js (needs a C++17 compiler and CMake)")
        .option("--cuda", "also build the CUDA library, and fail when nvcc is missing (default: when nvcc is found)")
        .action((flags: { cuda?: boolean }) => run(() => buildNative(flags.cuda === true ? true : undefined)));
    program.command("proxy").description("guard a stdio MCP server: relay it and check every tools/call (server command after --)")
        .option("--audit <file>", "append every decision to this JSONL file")
        .option("--policy <file>", "policy JSON: threshold or level, failMode, skipTools, timeoutMs, maxHistory")
        .addOption(new Option("--level <level>", "a calibrated operating point (overrides the policy's)").choices(["strict", "balanced", "permissive"]))
        .argument("<command...>", "the server's command and arguments")
        .action((command: string[], flags) => run(async () => (await import("./mcp/proxy.js")).runProxyCommand(command, flags)));

    try {
        await program.parseAsync(argv, { from: "user" });
        return code;
    } catch (err) {
        const commanderCode = (err as { code?: string }).code;
        if (commanderCode === "commander.helpDisplayed" || commanderCode === "commander.version")
            return exit.allow;
        if (commanderCode?.startsWith("commander."))
            return exit.badInput;
        process.stderr.write(`mcpguard: ${(err as Error).message}\n`);
        return exitCodeFor(err);
    }
}

process.exitCode = await main(process.argv.slice(2));
