#!/usr/bin/env node
// Builds the prebuilt addon variants into prebuilds/<platform>-<arch>[-cuda]/ with a metadata.json
// beside each binary (toolkit, GPU architectures, commit). The CUDA variant is skipped, with a
// warning, when nvcc is not found. Usage: node scripts/prebuild.mjs [--cpu-only]
import { execFileSync } from "node:child_process";
import { root, runCmakeJs } from "./native-build.mjs";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

const platform = `${process.platform}-${process.arch}`;
const variants = [
    { name: platform, cuda: false },
    { name: `${platform}-cuda`, cuda: true }
];

function output(command, args) {
    try {
        return execFileSync(command, args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
        return null;
    }
}

function cmakeCacheValue(buildDir, key) {
    const cache = readFileSync(path.join(buildDir, "CMakeCache.txt"), "utf8");
    return cache.match(new RegExp(`^${key}:[A-Z]+=(.*)$`, "m"))?.[1] ?? null;
}

function metadata(variant, buildDir) {
    const cuda = variant.cuda;
    return {
        variant: variant.name,
        toolkit: cuda ? `CUDA ${cmakeCacheValue(buildDir, "CMAKE_CUDA_COMPILER_VERSION") ?? output("nvcc", ["--version"])?.match(/release ([\d.]+)/)?.[1]}` : null,
        architectures: cuda ? (cmakeCacheValue(buildDir, "MCPGUARD_CUDA_ARCHITECTURES") ?? "").split(";") : [],
        commit: output("git", ["rev-parse", "HEAD"]),
        nodeApi: 8,
        builtAt: new Date().toISOString()
    };
}

function build(variant) {
    const buildDir = path.join(root, "build-prebuild", variant.name);
    const outDir = path.join(root, "prebuilds", variant.name);
    const status = runCmakeJs("rebuild", { cuda: variant.cuda, extraArgs: ["--out", buildDir] });
    if (status !== 0)
        throw new Error(`cmake-js rebuild for ${variant.name} exited with ${status}`);
    rmSync(outDir, { recursive: true, force: true });
    mkdirSync(outDir, { recursive: true });
    const files = ["mcpguard_native.node", ...(variant.cuda ? ["libmcpguard_cuda.so"] : [])];
    for (const file of files)
        copyFileSync(path.join(buildDir, "Release", file), path.join(outDir, file));
    writeFileSync(path.join(outDir, "metadata.json"), JSON.stringify(metadata(variant, buildDir), null, 2) + "\n");
    console.log(`prebuilds/${variant.name}: ${files.join(", ")}, metadata.json`);
}

const cpuOnly = process.argv.includes("--cpu-only");
for (const variant of variants) {
    if (variant.cuda && (cpuOnly || output("nvcc", ["--version"]) == null)) {
        console.warn(`skipping ${variant.name}: ${cpuOnly ? "--cpu-only" : "nvcc not found"}`);
        continue;
    }
    build(variant);
}
