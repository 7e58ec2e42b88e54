import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PassThrough } from "node:stream";
import type { Decision } from "../lib/guard.js";
import type { CallJudge } from "../lib/mcp/judge.js";
import { McpProxy, type ProxyOptions } from "../lib/mcp/proxy.js";

export const repoRoot = fileURLToPath(new URL("..", import.meta.url));
export const cliPath = path.join(repoRoot, "dist", "cli.js");
export const filesystemServer = path.join(repoRoot, "node_modules", "@modelcontextprotocol", "server-filesystem", "dist", "index.js");

export function tempDir(prefix: string): string {
    return mkdtempSync(path.join(os.tmpdir(), `mcpguard-${prefix}-`));
}

/**
 * A tiny stdio JSON-RPC server for fault tests. Tools: echo (returns its arguments), hang (never answers),
 * crash (exits with code 7), big (answers with `size` characters), garbage (writes a line that is not JSON first).
 * Every line it receives is appended to $FAKE_LOG. With IGNORE_EOF=1 it keeps running after stdin closes.
 */
const fakeServerSource = String.raw`
import { appendFileSync } from "node:fs";
const log = process.env.FAKE_LOG;
const send = (m) => process.stdout.write(JSON.stringify(m) + "\n");
const tools = ["echo", "hang", "crash", "big", "garbage"].map((name) => ({ name, description: "the " + name + " tool", inputSchema: { type: "object" } }));
function handle(m) {
    if (m.method === "initialize")
        return send({ jsonrpc: "2.0", id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: { listChanged: true } }, serverInfo: { name: "fake", version: "1.0.0" } } });
    if (m.method === "tools/list") return send({ jsonrpc: "2.0", id: m.id, result: { tools } });
    if (m.method === "ping") return send({ jsonrpc: "2.0", id: m.id, result: {} });
    if (m.method !== "tools/call") return m.id !== undefined && send({ jsonrpc: "2.0", id: m.id, error: { code: -32601, message: "Method not found" } });
    const { name, arguments: args = {} } = m.params;
    if (name === "echo") return send({ jsonrpc: "2.0", id: m.id, result: { content: [{ type: "text", text: JSON.stringify(args) }] } });
    if (name === "crash") process.exit(7);
    if (name === "big") return send({ jsonrpc: "2.0", id: m.id, result: { content: [{ type: "text", text: "x".repeat(args.size) }] } });
    if (name === "garbage") { process.stdout.write("this is not json\n"); return send({ jsonrpc: "2.0", id: m.id, result: { content: [] } }); }
}
let buffer = "";
process.stdin.on("data", (chunk) => {
    buffer += chunk;
    for (let i = buffer.indexOf("\n"); i !== -1; i = buffer.indexOf("\n")) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 1);
        if (log) appendFileSync(log, line + "\n");
        let m;
        try { m = JSON.parse(line); } catch { send({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } }); continue; }
        handle(m);
    }
});
process.stdin.on("end", () => { if (process.env.IGNORE_EOF !== "1") process.exit(0); else setInterval(() => {}, 1000); });
`;

/** Writes the fake server into `dir` and returns its path. */
export function writeFakeServer(dir: string): string {
    const file = path.join(dir, "fake-server.mjs");
    writeFileSync(file, fakeServerSource);
    return file;
}

/** Collects newline-delimited output of a stream as raw lines and parsed messages (each line parsed once). */
export class LineCollector {
    readonly lines: string[] = [];
    readonly messages: Record<string, unknown>[] = [];
    #buffer = "";
    #waiters: (() => void)[] = [];

    constructor(stream: NodeJS.ReadableStream) {
        stream.on("data", (chunk: Buffer | string) => {
            this.#buffer += chunk.toString();
            for (let i = this.#buffer.indexOf("\n"); i !== -1; i = this.#buffer.indexOf("\n")) {
                const line = this.#buffer.slice(0, i + 1);
                this.lines.push(line);
                this.messages.push((() => { try { return JSON.parse(line); } catch { return { unparsed: line }; } })());
                this.#buffer = this.#buffer.slice(i + 1);
            }
            this.#waiters.splice(0).forEach((wake) => wake());
        });
    }

    /** Waits until a line satisfies `predicate` (or rejects after `timeoutMs`); lines already checked are not checked again. */
    async waitFor(predicate: (message: Record<string, unknown>, line: string) => boolean, timeoutMs = 10_000): Promise<string> {
        const deadline = Date.now() + timeoutMs;
        for (let checked = 0; ;) {
            for (; checked < this.lines.length; checked++)
                if (predicate(this.messages[checked]!, this.lines[checked]!))
                    return this.lines[checked]!;
            if (Date.now() > deadline)
                throw new Error(`timed out waiting; got ${this.lines.length} lines:\n${this.lines.join("").slice(0, 2_000)}`);
            await new Promise<void>((resolve) => { this.#waiters.push(resolve); setTimeout(resolve, 50); });
        }
    }

    response(id: unknown): Promise<string> {
        return this.waitFor((m) => JSON.stringify(m.id) === JSON.stringify(id) && m.method === undefined);
    }
}

export const initializeLine = (id: number | string = 0) => JSON.stringify({ jsonrpc: "2.0", id, method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "test-host", version: "1.0.0" } } }) + "\n";
export const requestLine = (id: number | string, method: string, params?: unknown) =>
    JSON.stringify({ jsonrpc: "2.0", id, method, ...(params !== undefined ? { params } : {}) }) + "\n";
export const callLine = (id: number | string, name: string, args: Record<string, unknown> = {}) => requestLine(id, "tools/call", { name, arguments: args });

/** Waits for a child process to exit and returns its code. */
export function exitOf(child: ChildProcess): Promise<number | null> {
    if (child.exitCode !== null)
        return Promise.resolve(child.exitCode);
    return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

/** Starts `mcpguard proxy` the way a host does: `node dist/cli.js proxy ... -- <server command>`. */
export function spawnProxy(proxyArgs: string[], serverCommand: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    return spawn(process.execPath, [cliPath, "proxy", ...proxyArgs, "--", ...serverCommand],
        { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...env } });
}

/** A decision as the guard would give it, for judges that stand in for the model. */
export function fakeDecision(refuse: boolean): Decision {
    return {
        refuse, score: refuse ? 0.93 : 0.04, threshold: 0.5, category: refuse ? "RAC" : "BENIGN",
        evidence: [
            { id: "train-0007", label: "benign", category: "BENIGN", distance: 0.41, excerpt: "User: save my notes" },
            { id: "train-0412", label: "attack", category: "RAC", distance: 0.21, excerpt: "User: add this key to ~/.ssh/authorized_keys" }
        ],
        timings: { totalMs: 1, embedMs: 0, retrieveMs: 0, assembleMs: 0, modelMs: 1 }
    };
}

/** A judge that allows every call, standing in for the model where the proxy's own handling is under test. */
export const allowAll: CallJudge = { shouldRefuse: async () => fakeDecision(false) };

/** Child processes a test started; `killStartedChildren` (an afterEach hook) stops them. */
export const startedChildren: ChildProcess[] = [];
export function killStartedChildren(): void {
    startedChildren.splice(0).forEach((child) => child.kill("SIGKILL"));
}

/**
 * The proxy in this process, between an in-memory host and a server (the fake server unless `serverArgs` names a
 * script and its arguments for node), initialized.
 */
export async function inProcessProxy(options: Partial<ProxyOptions> = {}, env: NodeJS.ProcessEnv = {}, serverArgs?: string[]) {
    const dir = tempDir("faults");
    const serverLog = path.join(dir, "server.log");
    const server = spawn(process.execPath, serverArgs ?? [writeFakeServer(dir)],
        { stdio: ["pipe", "pipe", "inherit"], env: { ...process.env, FAKE_LOG: serverLog, ...env } });
    startedChildren.push(server);
    const input = new PassThrough();
    const output = new PassThrough();
    const proxy = new McpProxy({ input, output }, server, { judge: async () => allowAll, log: () => undefined, ...options });
    const host = new LineCollector(output);
    const serverSaw = () => existsSync(serverLog) ? readFileSync(serverLog, "utf8").split("\n").filter((l) => l !== "") : [];
    input.write(initializeLine(0));
    await host.response(0);
    return { proxy, host, input, server, dir, serverSaw, send: (line: string) => input.write(line) };
}
