import { z } from "zod";
import type { FailMode } from "./judge.js";

/** Checks shared by guardClient's options and the proxy's policy file. */
export const settingsShape = {
    threshold: z.number().min(0).max(1).optional(),
    level: z.enum(["strict", "balanced", "permissive"]).optional(),
    failMode: z.enum(["closed", "open"]).optional(),
    skipTools: z.array(z.string().min(1)).max(1_024).optional(),
    timeoutMs: z.number().int().positive().max(3_600_000).optional()
};

/** A threshold and a level both given: the one refinement the shared settings need. */
export const oneOperatingPoint: [(s: { threshold?: number, level?: string }) => boolean, { message: string, path: string[] }] = [
    (s) => s.threshold === undefined || s.level === undefined, { message: "give threshold or level, not both", path: ["level"] }];

/** Whether a tool skips the check: listed by name, or `*` for every tool. */
export function isSkipped(skipTools: readonly string[] | undefined, name: string): boolean {
    return skipTools != null && (skipTools.includes(name) || skipTools.includes("*"));
}

/** Parses `value` with `schema`, throwing a TypeError whose message names the first offending field under `prefix`. */
export function parseNamed<T>(schema: z.ZodType<T>, value: unknown, prefix: string): T {
    const result = schema.safeParse(value);
    if (result.success)
        return result.data;
    const issue = result.error.issues[0]!;
    const unknownKey = issue.code === "unrecognized_keys" ? [(issue as { keys: string[] }).keys[0] ?? ""] : [];
    const field = [prefix, ...issue.path.map(String), ...unknownKey].filter((p) => p !== "").join(".");
    throw new TypeError(`${field}: ${issue.message}`);
}

export const defaultFailMode: FailMode = "closed";
