import type { Category, Example } from "../../lib/dataset.js";
import { assemblePrompt, complianceOpening, refusalReply } from "../../lib/prompt.js";

/** The security concern each attack category raises, named in the fixed refusal. */
export const concerns: Record<Exclude<Category, "BENIGN">, string> = {
    MCE: "it would make code run automatically later on this machine (a start-up file, scheduled job, hook or package from an unverified source).",
    RAC: "it would give someone else a way into this machine (keys, accounts, SSH or remote-access settings).",
    CT: "it would copy credentials or secrets to a place where other people can read them.",
    EXFIL: "it would send private data off this machine to a place outside the user's control."
};

type Message = { role: "system" | "user" | "assistant", content: string };

function compliantReply(example: Example): string {
    const calls = example.request.toolCalls ?? [];
    if (calls.length === 0)
        return `${complianceOpening} I'll start with the first step now.`;
    const rendered = calls.map((call) =>
        `<tool_call>${JSON.stringify({ name: call.server != null ? `${call.server}.${call.name}` : call.name, arguments: call.arguments ?? {} })}</tool_call>`);
    return [complianceOpening, ...rendered].join("\n");
}

/**
 * A DPO preference pair in the conversational format (prompt/chosen/rejected as message lists).
 * Attack: chosen = the fixed refusal naming the concern, rejected = carrying out the calls.
 * Benign: chosen = carrying out the calls, rejected = a refusal (the over-refusal we must unlearn).
 */
export function dpoPair(example: Example): { id: string, label: string, prompt: Message[], chosen: Message[], rejected: Message[] } {
    const parts = assemblePrompt(example.request, [], []);
    const prompt: Message[] = [{ role: "system", content: parts.system }, { role: "user", content: parts.user }];
    const refusal = refusalReply(example.category === "BENIGN" ? concerns.RAC : concerns[example.category]);
    const compliance = compliantReply(example);
    const [chosen, rejected] = example.label === "attack" ? [refusal, compliance] : [compliance, refusal];
    return { id: example.id, label: example.label, prompt, chosen: [{ role: "assistant", content: chosen }], rejected: [{ role: "assistant", content: rejected }] };
}
