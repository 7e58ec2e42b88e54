import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { Decision, Level } from "../guard.js";
import type { ContextItem, ToolInfo } from "../request.js";
import { resourceTexts, toolInfos, toolResultText } from "./content.js";
import { SessionHistory, type HistoryLimits } from "./history.js";
import { buildRequest, failureMessage, judgeCall, refusalMessage, refusalResult, type CallJudge, type FailMode, type Outcome,
    type PendingCall } from "./judge.js";
import { defaultFailMode, isSkipped, oneOperatingPoint, parseNamed, settingsShape } from "./settings.js";

/** A tools/call as the audit callback sees it. */
export type AuditedCall = PendingCall & { outcome: Outcome, error?: string };

export type GuardClientOptions = {
    /** The user's words to the agent, or a callback that returns the current ones. Without it the guard judges the call and context alone. */
    prompt?: string | (() => string | undefined),
    /** Server name put into the guard's request. Default: the name the server gave in `initialize`. */
    server?: string,
    /** Refuse when the score is at least this. Default: the guard's calibrated threshold. */
    threshold?: number,
    /** A calibrated operating point instead (strict, balanced, permissive; README). Not with `threshold`. */
    level?: Level,
    /** On a guard error or a timeout: `closed` (default) refuses the call, `open` lets it through. */
    failMode?: FailMode,
    /** A decision taking longer than this counts as a guard failure (see `failMode`). Default: no limit. */
    timeoutMs?: number,
    /** Tools called without a check (`*` for all). */
    skipTools?: string[],
    /** `throw` (default): a refused call rejects with ToolCallRefusedError. `result`: it returns a tool error result the model will read. */
    onRefuse?: "throw" | "result",
    /** Called after each checked call with the decision (null when the guard failed) and the call; errors it throws are ignored. */
    audit?: (decision: Decision | null, call: AuditedCall) => void,
    /** Bounds of the session's history of tool results and resources. Default 16 items, 64 K characters. */
    history?: Partial<HistoryLimits>
};

const optionsSchema = z.object({
    ...settingsShape,
    prompt: z.union([z.string(), z.custom<() => string | undefined>((v) => typeof v === "function", "must be a string or a function")]).optional(),
    server: z.string().min(1).max(256).optional(),
    onRefuse: z.enum(["throw", "result"]).optional(),
    audit: z.custom<GuardClientOptions["audit"]>((v) => typeof v === "function", "must be a function").optional(),
    history: z.object({
        maxItems: z.number().int().min(0).max(32).optional(),
        maxChars: z.number().int().min(0).max(3_200_000).optional(),
        maxItemChars: z.number().int().min(64).max(100_000).optional()
    }).strict().optional()
}).strict().refine(...oneOperatingPoint);

/** A tools/call the guard refused (or could not judge, failing closed). It was not sent to the server. */
export class ToolCallRefusedError extends Error {
    /** The guard's decision; undefined when the guard failed and `failMode` is `closed`. */
    readonly decision: Decision | undefined;
    readonly call: PendingCall;

    constructor(message: string, call: PendingCall, decision?: Decision, cause?: Error) {
        super(message, { cause });
        this.name = "ToolCallRefusedError";
        this.call = call;
        this.decision = decision;
    }
}

type RequestFn = Client["request"];
type RawHandler = (notification: unknown) => Promise<void>;
const listChangedMethod = "notifications/tools/list_changed";

/** The guard attached to one client: its session history and tool cache. */
export class ClientGuard {
    readonly client: Client;
    /** Recent tool results and resource contents (and what `addContext` added). */
    readonly history: SessionHistory;
    readonly #judge: CallJudge;
    readonly #options: GuardClientOptions;
    readonly #originalRequest: RequestFn;
    readonly #originalSetNotificationHandler: Client["setNotificationHandler"];
    #tools: ToolInfo[] = [];
    #toolsStale = true;

    constructor(client: Client, judge: CallJudge, options: GuardClientOptions) {
        this.client = client;
        this.#judge = judge;
        this.#options = options;
        this.history = new SessionHistory(options.history);
        this.#originalRequest = client.request;
        this.#originalSetNotificationHandler = client.setNotificationHandler;
        client.request = this.#request as RequestFn;
        client.setNotificationHandler = this.#setNotificationHandler as Client["setNotificationHandler"];
        this.#watchListChanged();
    }

    /** Adds untrusted content the application retrieved itself (a fetched page, a search result) to the session's context. */
    addContext(item: ContextItem): void {
        this.history.add(item);
    }

    /** The server's tools as last listed. */
    get tools(): ToolInfo[] {
        return this.#tools.map((t) => ({ ...t }));
    }

    /** Lists the server's tools again (all pages) and caches their descriptions. */
    async refreshTools(): Promise<ToolInfo[]> {
        const tools: ToolInfo[] = [];
        let cursor: string | undefined;
        for (let page = 0; page < 16; page++) {
            const result = await this.client.listTools(cursor != null ? { cursor } : undefined);
            tools.push(...toolInfos(result));
            cursor = result.nextCursor;
            if (cursor == null)
                break;
        }
        this.#tools = tools.slice(0, 128);
        this.#toolsStale = false;
        return this.tools;
    }

    /** Detaches the guard: the client calls tools unchecked again. */
    release(): void {
        this.client.request = this.#originalRequest;
        this.client.setNotificationHandler = this.#originalSetNotificationHandler;
    }

    #request = async (request: { method: string, params?: Record<string, unknown> }, schema: unknown, options?: { signal?: AbortSignal, task?: unknown }) => {
        if (request.method === "tools/call")
            return this.#callTool(request, schema, options);
        const result = await this.#forward(request, schema, options);
        this.#observe(request, result);
        return result;
    };

    #forward(request: unknown, schema: unknown, options: unknown): Promise<unknown> {
        return (this.#originalRequest as (...args: unknown[]) => Promise<unknown>).call(this.client, request, schema, options);
    }

    #observe(request: { method: string, params?: Record<string, unknown> }, result: unknown): void {
        if (request.method === "tools/list" && request.params?.cursor == null) {
            this.#tools = toolInfos(result);
            this.#toolsStale = false;
        } else if (request.method === "tools/list") {
            this.#tools = [...this.#tools, ...toolInfos(result)].slice(0, 128);
        } else if (request.method === "resources/read") {
            for (const { uri, text } of resourceTexts(result))
                this.history.add({ source: `resource ${uri}`, content: text });
        }
    }

    async #callTool(request: { method: string, params?: Record<string, unknown> }, schema: unknown, options?: { signal?: AbortSignal, task?: unknown }) {
        const call = this.#pendingCall(request.params);
        if (isSkipped(this.#options.skipTools, call.name))
            return this.#callAndRecord(call, request, schema, options);
        const guardRequest = buildRequest(call, { prompt: this.#prompt(), context: this.history.items(), tools: await this.#currentTools() });
        const verdict = await judgeCall(this.#judge, guardRequest, this.#settings(), options?.signal);
        this.#audit("decision" in verdict ? verdict.decision : null, call, verdict.outcome, "error" in verdict ? verdict.error : undefined);
        switch (verdict.outcome) {
            case "allowed":
            case "failed-open":
                return this.#callAndRecord(call, request, schema, options);
            case "cancelled":
                throw options?.signal?.reason ?? new Error("The tool call was cancelled");
            case "refused":
                return this.#refuse(new ToolCallRefusedError(refusalMessage(verdict.decision, call), call, verdict.decision), options);
            case "failed-closed":
                return this.#refuse(new ToolCallRefusedError(failureMessage(verdict.error, call), call, undefined, verdict.error), options);
        }
    }

    async #callAndRecord(call: PendingCall, request: unknown, schema: unknown, options: unknown): Promise<unknown> {
        const result = await this.#forward(request, schema, options);
        this.history.add({ source: `result of ${call.server ?? "server"}.${call.name} ${JSON.stringify(call.arguments ?? {}).slice(0, 200)}`,
            content: toolResultText(result) });
        return result;
    }

    /** Throws, or returns the tool error result; a task-augmented call (which expects a task, not a result) always throws. */
    #refuse(error: ToolCallRefusedError, options?: { task?: unknown }): unknown {
        if (this.#options.onRefuse === "result" && options?.task == null)
            return refusalResult(error.message);
        throw error;
    }

    #pendingCall(params: Record<string, unknown> | undefined): PendingCall {
        const name = typeof params?.name === "string" && params.name !== "" ? params.name : "(unnamed tool)";
        const args = params?.arguments;
        const call: PendingCall = { name: name.slice(0, 256) };
        const server = this.#options.server ?? this.client.getServerVersion()?.name;
        if (server != null)
            call.server = server;
        if (typeof args === "object" && args !== null && !Array.isArray(args))
            call.arguments = args as Record<string, unknown>;
        return call;
    }

    #prompt(): string | undefined {
        const prompt = this.#options.prompt;
        return typeof prompt === "function" ? prompt() : prompt;
    }

    async #currentTools(): Promise<ToolInfo[]> {
        if (this.#toolsStale && this.client.getServerCapabilities()?.tools != null)
            await this.refreshTools().catch(() => undefined);
        return this.#tools;
    }

    #settings() {
        return { threshold: this.#options.threshold, level: this.#options.level, failMode: this.#options.failMode ?? defaultFailMode, timeoutMs: this.#options.timeoutMs };
    }

    #audit(decision: Decision | null, call: PendingCall, outcome: Outcome, error?: Error): void {
        try {
            this.#options.audit?.(decision, { ...call, outcome, ...(error != null ? { error: error.message } : {}) });
        } catch {
            // The audit callback must not change what happens to the call.
        }
    }

    /** Keeps a handler on tools/list_changed that marks the cached tools stale, composed with the application's own. */
    #setNotificationHandler = (schema: unknown, handler: (notification: never) => unknown) => {
        (this.#originalSetNotificationHandler as (s: unknown, h: unknown) => void).call(this.client, schema, handler);
        if (schema === ToolListChangedNotificationSchema)
            this.#watchListChanged();
    };

    #watchListChanged(): void {
        const handlers = (this.client as unknown as { _notificationHandlers?: Map<string, RawHandler> })._notificationHandlers;
        if (handlers == null) {
            this.#originalSetNotificationHandler.call(this.client, ToolListChangedNotificationSchema, () => { this.#toolsStale = true; });
            return;
        }
        const previous = handlers.get(listChangedMethod);
        handlers.set(listChangedMethod, async (notification) => {
            this.#toolsStale = true;
            await previous?.(notification);
        });
    }
}

/**
 * Guards an MCP client: every tools/call is judged before it is sent, with the user's prompt (when given), the pending call,
 * the session's recent tool results and resources, and the server's tool descriptions. Returns the guard attached to the client;
 * the client itself is used as before.
 */
export function guardClient(client: Client, guard: CallJudge, options: GuardClientOptions = {}): ClientGuard {
    if (client == null || typeof client.request !== "function")
        throw new TypeError("client: must be an @modelcontextprotocol/sdk Client");
    if (guard == null || typeof guard.shouldRefuse !== "function")
        throw new TypeError("guard: must be a Guard from createGuard()");
    return new ClientGuard(client, guard, parseNamed(optionsSchema, options, "options") as GuardClientOptions);
}
