// The stdio proxy's added latency per tools/call, against calling the real filesystem server directly, same run:
// relay only (a skipped tool: no decision) and with the guard's decision (the real default model on this machine).
// Run after `npx tsc -p .`: npx tsx bench/proxy.bench.ts   (DECISION_ITERATIONS=n to change the decision sample count)
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { Bench } from "tinybench";

const root = mkdtempSync(path.join(os.tmpdir(), "mcpguard-bench-"));
const file = path.join(root, "notes.md");
writeFileSync(file, "Chili: 2 tsp cumin, 1 tbsp chipotle powder, a pinch of cinnamon. Simmer 40 minutes.\n");
const serverCommand = [path.resolve("node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"), root];
const cli = path.resolve("dist/cli.js");

async function connect(args: string[]): Promise<Client> {
    const client = new Client({ name: "bench-host", version: "1.0.0" });
    await client.connect(new StdioClientTransport({ command: process.execPath, args, stderr: "ignore" }));
    await client.listTools();
    return client;
}

function policyFile(policy: object): string {
    const policyPath = path.join(root, `policy-${Object.keys(policy).join("-")}.json`);
    writeFileSync(policyPath, JSON.stringify(policy));
    return policyPath;
}

const direct = await connect(serverCommand);
const relay = await connect([cli, "proxy", "--policy", policyFile({ skipTools: ["read_text_file"] }), "--", process.execPath, ...serverCommand]);
const guarded = await connect([cli, "proxy", "--audit", path.join(root, "audit.jsonl"), "--", process.execPath, ...serverCommand]);
const call = (client: Client) => async () => { await client.callTool({ name: "read_text_file", arguments: { path: file } }); };
await call(guarded)();  // waits for the proxy's guard to load (first decision), outside the measurement

const fast = new Bench({ time: 3_000, iterations: 50, warmupIterations: 10 });
fast.add("direct", call(direct)).add("proxy, relay only", call(relay));
await fast.run();
const slow = new Bench({ time: 0, iterations: Number(process.env.DECISION_ITERATIONS ?? 8), warmupIterations: 1 });
slow.add("proxy, with decision", call(guarded));
await slow.run();

type Stats = { latency: { mean: number, p50: number, p99: number }, throughput: { mean: number } };
const [directStats, relayStats, decisionStats] = [...fast.tasks, ...slow.tasks].map((task) => task.result as unknown as Stats);
const row = (name: string, s: Stats) => `${name.padEnd(22)} mean ${s.latency.mean.toFixed(2).padStart(9)} ms  p50 ${s.latency.p50.toFixed(2).padStart(9)} ms  p99 ${s.latency.p99.toFixed(2).padStart(9)} ms`;
console.log(row("direct", directStats!));
console.log(row("proxy, relay only", relayStats!));
console.log(row("proxy, with decision", decisionStats!));
const base = directStats!.latency.mean;
console.log(`relay only / direct: ${(relayStats!.latency.mean / base).toFixed(2)}x (+${(relayStats!.latency.mean - base).toFixed(2)} ms per call)`);
console.log(`with decision / direct: ${(decisionStats!.latency.mean / base).toFixed(1)}x (+${(decisionStats!.latency.mean - base).toFixed(0)} ms per call)`);
await Promise.all([direct.close(), relay.close(), guarded.close()]);
