import { readFile } from "node:fs/promises";
import { z } from "zod";
import type { FailMode } from "./judge.js";
import { oneOperatingPoint, parseNamed, settingsShape } from "./settings.js";
import type { Level } from "../guard.js";

/** The proxy's policy file (JSON). Every field is optional. */
export type Policy = {
    /** Refuse when the score is at least this. Default: the guard's calibrated threshold. */
    threshold?: number,
    /** A calibrated operating point instead (strict, balanced, permissive; README). Not with `threshold`. */
    level?: Level,
    /** On a guard error or timeout: `closed` (default) refuses the call, `open` forwards it. */
    failMode?: FailMode,
    /** Tools forwarded without a check; `*` for all (a relay only). */
    skipTools?: string[],
    /** A decision taking longer than this counts as a guard failure. Default: no limit. */
    timeoutMs?: number,
    /** Tool results and resources kept as context for the guard (0 to 32). Default 16. */
    maxHistory?: number
};

const policySchema = z.object({
    ...settingsShape,
    maxHistory: z.number().int().min(0).max(32).optional()
}).strict().refine(...oneOperatingPoint);

/** Thrown for a policy file that cannot be read or breaks the schema; the message names the field. */
export class PolicyError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "PolicyError";
    }
}

export function parsePolicy(value: unknown, source = "policy"): Policy {
    try {
        return parseNamed(policySchema, value, source);
    } catch (err) {
        throw new PolicyError(`invalid ${(err as Error).message}`);
    }
}

export async function loadPolicy(file: string): Promise<Policy> {
    let text: string;
    try {
        text = await readFile(file, "utf8");
    } catch (err) {
        throw new PolicyError(`cannot read the policy ${file}: ${(err as Error).message}`);
    }
    let value: unknown;
    try {
        value = JSON.parse(text);
    } catch (err) {
        throw new PolicyError(`the policy ${file} is not valid JSON: ${(err as Error).message}`);
    }
    return parsePolicy(value, "policy");
}
