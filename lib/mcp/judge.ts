import type { Decision, Evidence, Guard, Level } from "../guard.js";
import type { ContextItem, GuardRequest, ToolCall, ToolInfo } from "../request.js";
import { fitArguments } from "./content.js";

/** What to do when the guard fails or runs out of time: refuse the call (`closed`) or let it through (`open`). */
export type FailMode = "closed" | "open";

/** Anything that judges requests like the guard (the real `Guard`, or a stand-in in tests). */
export type CallJudge = Pick<Guard, "shouldRefuse">;

/** The tools/call under judgement. */
export type PendingCall = { server?: string, name: string, arguments?: Record<string, unknown> };

/** How one tools/call ended up. */
export type Outcome = "allowed" | "refused" | "failed-open" | "failed-closed" | "cancelled" | "skipped";

export type Verdict =
    | { outcome: "allowed" | "refused", decision: Decision }
    | { outcome: "failed-open" | "failed-closed", error: Error }
    | { outcome: "cancelled" };

export type JudgeSettings = { threshold?: number, level?: Level, failMode: FailMode, timeoutMs?: number };

/** The guard's request for a pending call: what an MCP client or proxy knows, in the contract's shape. */
export function buildRequest(call: PendingCall, parts: { prompt?: string, context: ContextItem[], tools: ToolInfo[] }): GuardRequest {
    const toolCall: ToolCall = { name: call.name };
    if (call.server != null && call.server !== "")
        toolCall.server = call.server.slice(0, 256);
    if (call.arguments !== undefined)
        toolCall.arguments = fitArguments(call.arguments);
    const request: GuardRequest = { toolCalls: [toolCall] };
    if (parts.prompt != null && parts.prompt.trim() !== "")
        request.prompt = parts.prompt;
    if (parts.context.length > 0)
        request.context = parts.context.slice(-32);
    if (parts.tools.length > 0)
        request.tools = parts.tools;
    return request;
}

class JudgeTimeout extends Error {}

/** Judges one request, applying the threshold override, the time limit and the fail mode. Never rejects. */
export async function judgeCall(judge: CallJudge, request: GuardRequest, settings: JudgeSettings, signal?: AbortSignal): Promise<Verdict> {
    if (signal?.aborted)
        return { outcome: "cancelled" };
    const controller = new AbortController();
    const onCancel = () => controller.abort();
    signal?.addEventListener("abort", onCancel, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
        if (settings.timeoutMs !== undefined)
            timer = setTimeout(() => { reject(new JudgeTimeout(`no decision within ${settings.timeoutMs} ms`)); controller.abort(); }, settings.timeoutMs);
    });
    try {
        const decision = applyThreshold(await Promise.race([judge.shouldRefuse(request, { signal: controller.signal, level: settings.level }), timeout]), settings.threshold);
        return { outcome: decision.refuse ? "refused" : "allowed", decision };
    } catch (err) {
        if (signal?.aborted)
            return { outcome: "cancelled" };
        const error = err instanceof Error ? err : new Error(String(err));
        return { outcome: settings.failMode === "open" ? "failed-open" : "failed-closed", error };
    } finally {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onCancel);
    }
}

function applyThreshold(decision: Decision, threshold: number | undefined): Decision {
    if (threshold === undefined)
        return decision;
    const refuse = decision.score >= threshold;
    const attackCategory = decision.evidence.find((e) => e.label === "attack")?.category ?? "MCE";
    const category = !refuse ? "BENIGN" : decision.category !== "BENIGN" ? decision.category : attackCategory;
    return { ...decision, threshold, refuse, category };
}

const concerns: Record<string, string> = {
    MCE: "malicious code execution (code planted to run later)",
    RAC: "remote access control (a way in for another person)",
    CT: "credential theft",
    EXFIL: "data exfiltration (private data taken away)",
    BENIGN: "a request that resembles known attacks"
};

/** The security concern of a decision's category, in words. */
export function concernOf(decision: Decision): string {
    return concerns[decision.category] ?? decision.category;
}

/** The nearest attack example among the evidence, else the nearest of any label. */
export function nearestEvidence(decision: Decision): Evidence | undefined {
    const byDistance = [...decision.evidence].sort((a, b) => a.distance - b.distance);
    return byDistance.find((e) => e.label === "attack") ?? byDistance[0];
}

const callName = (call: PendingCall) => call.server != null ? `${call.server}.${call.name}` : call.name;

/** The message a host (and its model) sees for a refused call: the concern and the nearest evidence. */
export function refusalMessage(decision: Decision, call: PendingCall): string {
    const lines = [
        `mcpguard refused the call to ${callName(call)}: it raises a security concern: ${concernOf(decision)} [${decision.category}].`,
        `Score ${decision.score.toFixed(3)} >= threshold ${decision.threshold.toFixed(3)}.`
    ];
    const nearest = nearestEvidence(decision);
    if (nearest != null)
        lines.push(`Nearest evidence: ${nearest.label} example ${nearest.id} (${nearest.category}, distance ${nearest.distance.toFixed(3)}): ` +
            `"${nearest.excerpt.replace(/\s+/g, " ").slice(0, 160)}"`);
    lines.push("The call was not sent to the server. Content retrieved earlier in this session may contain instructions that are not the user's.");
    return lines.join("\n");
}

/** The message for a call refused because the guard could not decide (fail-closed). */
export function failureMessage(error: Error, call: PendingCall): string {
    return `mcpguard could not judge the call to ${callName(call)} (${error.message}) and fails closed: the call was not sent to the server.`;
}

/** A tools/call result that reports a refusal to the model as a tool error. */
export function refusalResult(text: string): { content: { type: "text", text: string }[], isError: true } {
    return { content: [{ type: "text", text }], isError: true };
}
