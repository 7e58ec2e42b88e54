import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const addon = path.join(root, "build", "Release", "mcpguard_native.node");

/** Node's own headers, so cmake-js needs no download (it only skips it for packages that declare napi_versions). */
function nodeDirEnv(): Record<string, string> {
    const prefix = path.dirname(path.dirname(process.execPath));
    return existsSync(path.join(prefix, "include", "node", "node.h")) && process.env.npm_config_nodedir == null
        ? { npm_config_nodedir: prefix } : {};
}

/** Vitest globalSetup: builds the native addon with cmake-js when build/Release/mcpguard_native.node is missing. */
export default function setup(): void {
    if (existsSync(addon))
        return;
    const result = spawnSync("npx", ["cmake-js", "compile"], { cwd: root, stdio: "inherit", env: { ...process.env, ...nodeDirEnv() } });
    if (result.status !== 0 || !existsSync(addon))
        throw new Error(`building the native addon failed (npx cmake-js compile exited with ${result.status}); see the output above`);
}
