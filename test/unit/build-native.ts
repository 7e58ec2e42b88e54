import { existsSync } from "node:fs";
// @ts-expect-error plain JavaScript shared with the install hook
import { localAddon, runCmakeJs } from "../../scripts/native-build.mjs";

/** Vitest globalSetup: builds the native addon with cmake-js when build/Release/mcpguard_native.node is missing. */
export default function setup(): void {
    if (existsSync(localAddon as string))
        return;
    const status = (runCmakeJs as (command: string) => number)("compile");
    if (status !== 0 || !existsSync(localAddon as string))
        throw new Error(`building the native addon failed (cmake-js compile exited with ${status}); see the output above`);
}
