import os from "node:os";
import path from "node:path";

/** Where models, converted files and built stores are cached: `MCPGUARD_HOME`, default `~/.cache/mcpguard`. */
export function mcpguardHome(): string {
    const fromEnv = process.env.MCPGUARD_HOME;
    return path.resolve(fromEnv != null && fromEnv !== "" ? fromEnv : path.join(os.homedir(), ".cache", "mcpguard"));
}

export type GpuChoice = "auto" | "cuda" | "cpu";

/** `MCPGUARD_GPU`: `auto` (default), `cuda` or `cpu`. */
export function gpuChoice(explicit?: GpuChoice): GpuChoice {
    const value = explicit ?? process.env.MCPGUARD_GPU ?? "auto";
    if (value !== "auto" && value !== "cuda" && value !== "cpu")
        throw new Error(`MCPGUARD_GPU must be "auto", "cuda" or "cpu", got "${value}"`);
    return value;
}
