#!/usr/bin/env node
// npm's install hook: keeps a prebuilt binary that loads on this machine, else builds the addon from source.
// Never fails the install: without a binary, mcpguard's loader names every attempt and its fix on first use.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { localAddon, root, runCmakeJs } from "./native-build.mjs";

const require = createRequire(import.meta.url);
const platform = `${process.platform}-${process.arch}`;

function loads(file) {
    try {
        return existsSync(file) && require(file) != null;
    } catch {
        return false;
    }
}

const cudaDriver = existsSync("/proc/driver/nvidia/version") || existsSync("/dev/nvidiactl");
const prebuilt = [...(cudaDriver ? [`${platform}-cuda`] : []), platform]
    .map((variant) => path.join(root, "prebuilds", variant, "mcpguard_native.node"))
    .find(loads);
if (process.env.MCPGUARD_SKIP_BUILD === "1")
    console.log("mcpguard: MCPGUARD_SKIP_BUILD=1, not building the native addon");
else if (prebuilt != null)
    console.log(`mcpguard: using the prebuilt native addon ${path.relative(root, prebuilt)}`);
else if (loads(localAddon))
    console.log(`mcpguard: using the native addon built in ${path.relative(root, localAddon)}`);
else {
    console.log(`mcpguard: no prebuilt native addon for ${platform}; building from source with cmake-js`);
    if (runCmakeJs("compile") !== 0 || !loads(localAddon))
        console.warn("mcpguard: building the native addon failed (see above). Install a C++17 compiler and CMake, then run `npx mcpguard build` (add --cuda for the CUDA library).");
}
