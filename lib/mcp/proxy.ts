import { spawn, type ChildProcess } from "node:child_process";
import { constants } from "node:os";
import type { Readable, Writable } from "node:stream";
import type { Guard, Level } from "../guard.js";
import type { ToolInfo } from "../request.js";
import { AuditLog, auditRecord } from "./audit.js";
import { resourceTexts, toolInfos, toolResultText } from "./content.js";
import { SessionHistory } from "./history.js";
import { buildRequest, failureMessage, judgeCall, refusalMessage, refusalResult, type CallJudge, type Outcome, type PendingCall,
    type Verdict } from "./judge.js";
import { LineSplitter } from "./lines.js";
import { loadPolicy, parsePolicy, PolicyError, type Policy } from "./policy.js";
import { defaultFailMode, isSkipped } from "./settings.js";

type Message = Record<string, unknown>;
type PendingRequest = { method: string, cursor?: unknown, call?: PendingCall };

/** The proxy's own requests to the server (tools/list refreshes) carry ids with this prefix; their answers are not relayed. */
const internalIdPrefix = "mcpguard-proxy:";
const isObject = (value: unknown): value is Message => typeof value === "object" && value !== null && !Array.isArray(value);
const idKey = (id: unknown) => JSON.stringify(id);
const parse = (bytes: Buffer): unknown => { try { return JSON.parse(bytes.toString("utf8")); } catch { return undefined; } };

/** JSON-RPC error codes the proxy answers with. */
export const proxyErrors = { parse: -32700, invalidRequest: -32600, invalidParams: -32602, connectionClosed: -32000, internal: -32603 } as const;

export type ProxyOptions = {
    /** Returns the guard (loading it on first use). Not called when every tool is skipped. */
    judge: () => Promise<CallJudge>,
    policy?: Policy,
    audit?: AuditLog,
    /** Longest message accepted from the host, in bytes; longer ones are dropped with an error. Default 16 MiB. */
    maxLineBytes?: number,
    /** After the host goes away: time the server gets to exit before SIGTERM, and again before SIGKILL. Default 2,000 ms. */
    shutdownGraceMs?: number,
    /** Where the proxy reports what it dropped (default: stderr). */
    log?: (line: string) => void
};

/** Writes whole lines to a stream; lines written while a long line is being streamed wait for its end. */
class LineOutput {
    readonly stream: Writable;
    #midLine = false;
    #waiting: Buffer[] = [];

    constructor(stream: Writable) {
        this.stream = stream;
    }

    write(line: Buffer): void {
        if (this.#midLine)
            this.#waiting.push(line);
        else
            this.stream.write(line);
    }

    writePiece(piece: Buffer, last: boolean): void {
        this.stream.write(piece);
        this.#midLine = !last;
        if (last)
            this.#waiting.splice(0).forEach((line) => this.stream.write(line));
    }

    send(message: Message): void {
        this.write(Buffer.from(JSON.stringify(message) + "\n"));
    }
}

/** The id of a message too large to parse, read from its first or last bytes where it is a top-level key. */
export function sniffId(head: string, tail: string): string | number | null {
    const value = String.raw`(-?\d+|"[^"\\]{0,256}")`;
    const fromHead = new RegExp(String.raw`^\s*\{(\s*"(?:jsonrpc|method)"\s*:\s*"[^"\\]*"\s*,)*\s*"id"\s*:\s*` + value).exec(head);
    const fromTail = new RegExp(String.raw`,\s*"id"\s*:\s*` + value + String.raw`\s*\}\s*$`).exec(tail);
    const raw = fromHead?.[2] ?? fromTail?.[1];
    return raw === undefined ? null : JSON.parse(raw) as string | number;
}

/** A stdio MCP proxy: relays one host and one server, checking every tools/call with the guard before it is forwarded. */
export class McpProxy {
    /** Resolves with the server's exit code once it has exited and the host has been answered. */
    readonly exited: Promise<number>;
    readonly #hostIn: Readable;
    readonly #hostOut: LineOutput;
    readonly #server: ChildProcess;
    readonly #options: ProxyOptions;
    readonly #history: SessionHistory;
    readonly #pending = new Map<string, PendingRequest>();
    readonly #judging = new Map<string, { id: unknown, controller: AbortController }>();
    readonly #internal = new Map<string, (message: Message) => void>();
    #internalSeq = 0;
    #tools: ToolInfo[] = [];
    #toolsStale = true;
    #serverName: string | undefined;
    #initialized = false;
    #serverClosed = false;
    #shuttingDown = false;
    #oversizedHost = { head: "", tail: "" };
    #resolveExited!: (code: number) => void;

    constructor(host: { input: Readable, output: Writable }, server: ChildProcess, options: ProxyOptions) {
        this.#hostIn = host.input;
        this.#hostOut = new LineOutput(host.output);
        this.#server = server;
        this.#options = options;
        this.#history = new SessionHistory({ maxItems: options.policy?.maxHistory ?? 16 });
        this.exited = new Promise((resolve) => { this.#resolveExited = resolve; });
        this.#wireHost();
        this.#wireServer();
    }

    /** Closes the server's stdin, then signals it if it does not exit; `exited` resolves when it is gone. */
    shutdown(): void {
        if (this.#shuttingDown)
            return;
        this.#shuttingDown = true;
        this.#judging.forEach(({ controller }) => controller.abort());
        this.#server.stdin?.end();
        const grace = this.#options.shutdownGraceMs ?? 2_000;
        const term = setTimeout(() => this.#server.kill("SIGTERM"), grace);
        const kill = setTimeout(() => this.#server.kill("SIGKILL"), 2 * grace);
        void this.exited.then(() => { clearTimeout(term); clearTimeout(kill); });
    }

    #wireHost(): void {
        const splitter = new LineSplitter(this.#options.maxLineBytes ?? 16 * 1024 * 1024, {
            line: (bytes) => this.#fromHost(bytes),
            oversized: (piece, last) => this.#oversizedFromHost(piece, last)
        });
        this.#hostIn.on("data", (chunk: Buffer) => { splitter.push(chunk); this.#applyBackpressure(this.#server.stdin, this.#hostIn); });
        this.#hostIn.on("end", () => { splitter.end(); this.shutdown(); });
        this.#hostIn.on("error", () => this.shutdown());
        this.#hostOut.stream.on("error", () => this.shutdown());
    }

    #wireServer(): void {
        const splitter = new LineSplitter(this.#options.maxLineBytes ?? 16 * 1024 * 1024, {
            line: (bytes) => this.#fromServer(bytes),
            oversized: (piece, last) => this.#hostOut.writePiece(piece, last)
        });
        const stdout = this.#server.stdout!;
        stdout.on("data", (chunk: Buffer) => { splitter.push(chunk); this.#applyBackpressure(this.#hostOut.stream, stdout); });
        stdout.on("end", () => splitter.end());
        this.#server.stdin?.on("error", () => undefined);
        this.#server.on("error", (err) => { this.#log(`cannot run the server: ${err.message}`); this.#onServerClosed(127, null); });
        this.#server.on("close", (code, signal) => this.#onServerClosed(code, signal));
    }

    #applyBackpressure(target: Writable | null | undefined, source: Readable): void {
        if (target?.writableNeedDrain !== true)
            return;
        source.pause();
        target.once("drain", () => source.resume());
    }

    #fromHost(bytes: Buffer): void {
        const text = bytes.toString("utf8").trim();
        if (text === "")
            return;
        let message: unknown;
        try {
            message = JSON.parse(text);
        } catch (err) {
            return this.#replyError(null, proxyErrors.parse, `Parse error: ${(err as Error).message}`);
        }
        if (Array.isArray(message))
            return this.#fromHostBatch(message, bytes);
        if (!isObject(message))
            return this.#replyError(null, proxyErrors.invalidRequest, "Invalid Request: not a JSON-RPC message");
        if (message.method === "tools/call")
            return void this.#checkCall(message, bytes).catch((err: Error) => this.#replyError(message.id, proxyErrors.internal, `mcpguard proxy: ${err.message}`));
        if (message.method === "notifications/cancelled" && this.#cancelJudgement(message))
            return;
        this.#track(message);
        this.#toServer(bytes);
    }

    #fromHostBatch(batch: unknown[], bytes: Buffer): void {
        const requests = batch.filter(isObject);
        if (!requests.some((m) => m.method === "tools/call")) {
            requests.forEach((m) => this.#track(m));
            return this.#toServer(bytes);
        }
        for (const m of requests.filter((r) => r.id != null && typeof r.method === "string"))
            this.#replyError(m.id, proxyErrors.invalidRequest, "mcpguard proxy does not relay batches that contain tools/call; send each call alone");
    }

    #oversizedFromHost(piece: Buffer, last: boolean): void {
        const seen = this.#oversizedHost;
        if (seen.head === "")
            seen.head = piece.subarray(0, 512).toString("utf8");
        seen.tail = (seen.tail + piece.subarray(Math.max(0, piece.length - 512)).toString("utf8")).slice(-512);
        if (!last)
            return;
        this.#oversizedHost = { head: "", tail: "" };
        const id = sniffId(seen.head, seen.tail);
        this.#log(`dropped a message from the host over ${this.#options.maxLineBytes ?? 16 * 1024 * 1024} bytes`);
        this.#replyError(id, proxyErrors.invalidRequest, "Invalid Request: message too large for mcpguard proxy; it was not forwarded");
    }

    #track(message: Message): void {
        if (message.method === "notifications/cancelled" && isObject(message.params))
            this.#pending.delete(idKey(message.params.requestId));
        if (typeof message.method !== "string" || message.id == null)
            return;
        const params = isObject(message.params) ? message.params : {};
        this.#pending.set(idKey(message.id), { method: message.method, cursor: params.cursor });
        if (this.#pending.size > 10_000)
            this.#pending.delete(this.#pending.keys().next().value!);
    }

    #toServer(bytes: Buffer): void {
        if (!this.#serverClosed)
            this.#server.stdin?.write(bytes);
    }

    /** Drops a cancellation of a call still under judgement (the server never saw the call). */
    #cancelJudgement(message: Message): boolean {
        const requestId = isObject(message.params) ? message.params.requestId : undefined;
        const judging = this.#judging.get(idKey(requestId));
        judging?.controller.abort();
        return judging != null;
    }

    async #checkCall(message: Message, bytes: Buffer): Promise<void> {
        if (message.id == null)
            return this.#log("dropped a tools/call without an id");
        const call = this.#pendingCall(message.params);
        if (call == null)
            return this.#replyError(message.id, proxyErrors.invalidParams, "Invalid params: tools/call needs params.name");
        if (isSkipped(this.#options.policy?.skipTools, call.name)) {
            this.#options.audit?.append(auditRecord(message.id, call, "skipped"));
            return this.#forwardCall(message, bytes, call);
        }
        const key = idKey(message.id);
        const controller = new AbortController();
        this.#judging.set(key, { id: message.id, controller });
        const verdict = await this.#judge(call, controller.signal).finally(() => this.#judging.delete(key));
        this.#auditVerdict(message.id, call, verdict);
        if (this.#serverClosed || this.#shuttingDown)
            return;
        this.#act(verdict, message, bytes, call);
    }

    #act(verdict: Verdict, message: Message, bytes: Buffer, call: PendingCall): void {
        switch (verdict.outcome) {
            case "allowed":
            case "failed-open":
                return this.#forwardCall(message, bytes, call);
            case "refused":
                return this.#reply(message.id, refusalResult(refusalMessage(verdict.decision, call)));
            case "failed-closed":
                return this.#reply(message.id, refusalResult(failureMessage(verdict.error, call)));
            case "cancelled":
                return;
        }
    }

    #forwardCall(message: Message, bytes: Buffer, call: PendingCall): void {
        this.#pending.set(idKey(message.id), { method: "tools/call", call });
        this.#toServer(bytes);
    }

    async #judge(call: PendingCall, signal: AbortSignal): Promise<Verdict> {
        const policy = this.#options.policy ?? {};
        const failMode = policy.failMode ?? defaultFailMode;
        let judge: CallJudge;
        try {
            judge = await this.#options.judge();
        } catch (err) {
            const error = new Error(`the guard did not load: ${(err as Error).message}`);
            return signal.aborted ? { outcome: "cancelled" } : { outcome: failMode === "open" ? "failed-open" : "failed-closed", error };
        }
        const request = buildRequest(call, { context: this.#history.items(), tools: await this.#currentTools() });
        return judgeCall(judge, request, { threshold: policy.threshold, level: policy.level, failMode, timeoutMs: policy.timeoutMs }, signal);
    }

    #auditVerdict(id: unknown, call: PendingCall, verdict: Verdict): void {
        const outcome: Outcome = verdict.outcome;
        this.#options.audit?.append(auditRecord(id, call, outcome, "decision" in verdict ? verdict.decision : undefined,
            "error" in verdict ? verdict.error : undefined));
    }

    #pendingCall(params: unknown): PendingCall | undefined {
        if (!isObject(params) || typeof params.name !== "string" || params.name === "" || params.name.length > 256)
            return undefined;
        const call: PendingCall = { name: params.name };
        if (this.#serverName != null)
            call.server = this.#serverName;
        if (isObject(params.arguments))
            call.arguments = params.arguments;
        return call;
    }

    /** The server's tools, listed again (by the proxy itself) when the server said they changed or the host never listed them. */
    async #currentTools(): Promise<ToolInfo[]> {
        if (this.#toolsStale && this.#initialized && !this.#serverClosed) {
            const response = await this.#internalRequest("tools/list", 3_000);
            if (response != null && isObject(response.result)) {
                this.#tools = toolInfos(response.result);
                this.#toolsStale = false;
            }
        }
        return this.#tools;
    }

    #internalRequest(method: string, timeoutMs: number): Promise<Message | undefined> {
        const id = `${internalIdPrefix}${++this.#internalSeq}`;
        return new Promise((resolve) => {
            const timer = setTimeout(() => { this.#internal.delete(id); resolve(undefined); }, timeoutMs);
            this.#internal.set(id, (message) => { clearTimeout(timer); resolve(message); });
            this.#toServer(Buffer.from(JSON.stringify({ jsonrpc: "2.0", id, method }) + "\n"));
        });
    }

    #fromServer(bytes: Buffer): void {
        const message = parse(bytes);
        if (isObject(message) && message.method === undefined && typeof message.id === "string" && message.id.startsWith(internalIdPrefix)) {
            this.#internal.get(message.id)?.(message);
            this.#internal.delete(message.id);
            return;
        }
        this.#hostOut.write(bytes);
        for (const m of Array.isArray(message) ? message : [message])
            if (isObject(m))
                this.#observe(m);
    }

    #observe(message: Message): void {
        if (message.method === "notifications/tools/list_changed")
            this.#toolsStale = true;
        if (message.method !== undefined || message.id == null)
            return;
        const key = idKey(message.id);
        const request = this.#pending.get(key);
        this.#pending.delete(key);
        if (request != null && isObject(message.result))
            this.#observeResult(request, message.result);
    }

    #observeResult(request: PendingRequest, result: Message): void {
        if (request.method === "initialize") {
            this.#initialized = true;
            const info = result.serverInfo;
            this.#serverName = isObject(info) && typeof info.name === "string" && info.name !== "" ? info.name.slice(0, 256) : undefined;
        } else if (request.method === "tools/list") {
            this.#tools = request.cursor == null ? toolInfos(result) : [...this.#tools, ...toolInfos(result)].slice(0, 128);
            this.#toolsStale = false;
        } else if (request.method === "tools/call" && request.call != null) {
            const { server, name, arguments: args } = request.call;
            this.#history.add({ source: `result of ${server ?? "server"}.${name} ${JSON.stringify(args ?? {}).slice(0, 200)}`,
                content: toolResultText(result) });
        } else if (request.method === "resources/read") {
            for (const { uri, text } of resourceTexts(result))
                this.#history.add({ source: `resource ${uri}`, content: text });
        }
    }

    #onServerClosed(code: number | null, signal: NodeJS.Signals | null): void {
        if (this.#serverClosed)
            return;
        this.#serverClosed = true;
        const exitCode = code ?? (signal != null ? 128 + (constants.signals[signal] ?? 0) : 1);
        const why = `The MCP server exited (${signal ?? `code ${exitCode}`}) before answering`;
        for (const { id, controller } of this.#judging.values()) {
            controller.abort();
            this.#replyError(id, proxyErrors.connectionClosed, why);
        }
        for (const key of this.#pending.keys())
            this.#replyError(JSON.parse(key), proxyErrors.connectionClosed, why);
        this.#pending.clear();
        this.#internal.forEach((resolve) => resolve({}));
        this.#hostIn.pause();
        this.#resolveExited(exitCode);
    }

    #reply(id: unknown, result: Message): void {
        if (!this.#shuttingDown)
            this.#hostOut.send({ jsonrpc: "2.0", id, result });
    }

    #replyError(id: unknown, code: number, message: string): void {
        if (!this.#shuttingDown)
            this.#hostOut.send({ jsonrpc: "2.0", id: id ?? null, error: { code, message } });
    }

    #log(line: string): void {
        (this.#options.log ?? ((l: string) => process.stderr.write(`mcpguard proxy: ${l}\n`)))(line);
    }
}

export type ProxyCommandFlags = {
    /** JSONL file every decision is appended to. */
    audit?: string,
    /** Policy JSON file (see Policy). */
    policy?: string,
    /** A calibrated operating point; overrides the policy file's. */
    level?: Level
};

/** Starts a server command behind a proxy on this process's stdio. */
export function startProxy(command: string[], options: ProxyOptions): McpProxy {
    const [file, ...args] = command;
    if (file == null)
        throw new PolicyError("give the server command after --, for example: mcpguard proxy -- npx @modelcontextprotocol/server-filesystem ~/work");
    const server = spawn(file, args, { stdio: ["pipe", "pipe", "inherit"] });
    return new McpProxy({ input: process.stdin, output: process.stdout }, server, options);
}

/** `mcpguard proxy`: runs until the server exits; returns its exit code (2 for a bad policy or command). */
export async function runProxyCommand(command: string[], flags: ProxyCommandFlags): Promise<number> {
    let policy: Policy;
    try {
        policy = flags.policy != null ? await loadPolicy(flags.policy) : {};
        if (flags.level !== undefined)
            policy = parsePolicy({ ...policy, level: flags.level });
        if (command.length === 0)
            throw new PolicyError("give the server command after --, for example: mcpguard proxy -- npx @modelcontextprotocol/server-filesystem ~/work");
    } catch (err) {
        process.stderr.write(`mcpguard: ${(err as Error).message}\n`);
        return 2;
    }
    const guard = isSkipped(policy.skipTools, "*") ? undefined : loadGuard(policy.level);
    const proxy = startProxy(command, { policy, audit: flags.audit != null ? new AuditLog(flags.audit) : undefined,
        judge: () => guard ?? Promise.reject(new Error("no guard")) });
    const stop = () => proxy.shutdown();
    process.once("SIGTERM", stop).once("SIGINT", stop);
    const code = await proxy.exited;
    process.stdin.destroy();
    await guard?.then((g) => g.dispose(), () => undefined);
    return code;
}

/**
 * Loads the guard while the host and the server start, and warms it with one decision (the framing's KV cache,
 * first-use allocations), so that the session's first tools/call is not the one that waits for the models.
 */
function loadGuard(level: Level | undefined): Promise<Guard> {
    process.stderr.write("mcpguard proxy: loading the guard's models in the background\n");
    const started = performance.now();
    const loading = import("../guard.js").then(async ({ createGuard }) => {
        const guard = await createGuard();
        await guard.shouldRefuse({ prompt: "list the files in this folder" }, { level });
        process.stderr.write(`mcpguard proxy: guard ready in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
        return guard;
    });
    loading.catch((err: Error) => process.stderr.write(`mcpguard proxy: the guard did not load: ${err.message}\n`));
    return loading;
}
