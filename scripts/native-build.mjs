// Building the native addon from source with cmake-js: shared by the install hook (scripts/install.mjs),
// `mcpguard build`, `npm run prebuild` and the test setup. Plain JavaScript, so it runs before TypeScript is built.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("..", import.meta.url));
export const localAddon = path.join(root, "build", "Release", "mcpguard_native.node");
const require = createRequire(import.meta.url);

/** Node's own headers when they are installed beside node, so cmake-js downloads nothing. */
function nodeDirEnv() {
    const prefix = path.dirname(path.dirname(process.execPath));
    return existsSync(path.join(prefix, "include", "node", "node.h")) && process.env.npm_config_nodedir == null
        ? { npm_config_nodedir: prefix } : {};
}

/**
 * Runs cmake-js in the package root. `cuda`: true fails without nvcc, false builds the CPU addon only,
 * undefined builds the CUDA library too when nvcc is found. Returns cmake-js's exit status.
 */
export function runCmakeJs(command = "compile", { cuda, extraArgs = [] } = {}) {
    const cmakeJs = require.resolve("cmake-js/bin/cmake-js");
    const args = [cmakeJs, command, ...extraArgs];
    if (cuda !== undefined)
        args.push(`--CDMCPGUARD_CUDA=${cuda ? "ON" : "OFF"}`);
    const result = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit", env: { ...process.env, ...nodeDirEnv() } });
    return result.status ?? 1;
}
