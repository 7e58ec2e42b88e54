import { appendFileSync } from "node:fs";
import type { Decision } from "../guard.js";
import { fitArguments } from "./content.js";
import type { Outcome, PendingCall } from "./judge.js";

/** One line of the audit log. */
export type AuditRecord = {
    time: string,
    /** The JSON-RPC id of the tools/call. */
    id: unknown,
    server?: string,
    tool: string,
    arguments?: Record<string, unknown>,
    outcome: Outcome,
    refuse?: boolean,
    score?: number,
    threshold?: number,
    category?: string,
    evidence?: { id: string, label: string, category: string, distance: number }[],
    totalMs?: number,
    error?: string
};

export function auditRecord(id: unknown, call: PendingCall, outcome: Outcome, decision?: Decision, error?: Error): AuditRecord {
    const record: AuditRecord = { time: new Date().toISOString(), id, server: call.server, tool: call.name, outcome };
    if (call.arguments !== undefined)
        record.arguments = fitArguments(call.arguments, 4_000);
    if (decision != null) {
        Object.assign(record, { refuse: decision.refuse, score: decision.score, threshold: decision.threshold, category: decision.category,
            totalMs: Math.round(decision.timings.totalMs) });
        record.evidence = decision.evidence.map(({ id, label, category, distance }) => ({ id, label, category, distance }));
    }
    if (error != null)
        record.error = error.message;
    return record;
}

/** Appends one JSON object a line to a file. Writes synchronously so that a crash never loses a decision already taken. */
export class AuditLog {
    readonly file: string;
    #warned = false;

    constructor(file: string) {
        this.file = file;
    }

    append(record: AuditRecord): void {
        try {
            appendFileSync(this.file, JSON.stringify(record) + "\n");
        } catch (err) {
            if (!this.#warned)
                process.stderr.write(`mcpguard proxy: cannot write the audit log ${this.file}: ${(err as Error).message}\n`);
            this.#warned = true;
        }
    }
}
