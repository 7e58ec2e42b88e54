import { spawn } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { mcpguardHome } from "./home.js";

/** Called as bytes arrive: `total` is undefined when the server does not say. */
export type Progress = (event: { label: string, done: number, total?: number }) => void;

const packageRoot = fileURLToPath(new URL("../", import.meta.url));

/** `hf:owner/repo/path/file.gguf` to the hub's download URL; https URLs pass through. */
export function hubUrl(uri: string): string {
    if (!uri.startsWith("hf:"))
        return uri;
    const [owner, repo, ...file] = uri.slice(3).split("/");
    if (owner == null || repo == null || file.length === 0)
        throw new Error(`hub URI "${uri}" must look like hf:owner/repo/file.gguf`);
    return `https://huggingface.co/${owner}/${repo}/resolve/main/${file.join("/")}`;
}

export async function downloadUrl(uri: string, target: string, progress?: Progress): Promise<void> {
    const response = await fetch(hubUrl(uri), { signal: AbortSignal.timeout(30 * 60_000) });
    if (!response.ok || response.body == null)
        throw new Error(`HTTP ${response.status} from ${hubUrl(uri)}`);
    const total = Number(response.headers.get("content-length") ?? NaN);
    let done = 0;
    const counted = Readable.fromWeb(response.body as import("node:stream/web").ReadableStream).on("data", (chunk: Buffer) => {
        done += chunk.length;
        progress?.({ label: path.basename(target), done, total: Number.isFinite(total) ? total : undefined });
    });
    await pipeline(counted, createWriteStream(target));
}

/** Runs a command, streaming its stderr to ours when `verbose`; rejects with its last output lines. */
export function run(command: string, args: string[], options: { cwd?: string, verbose?: boolean } = {}): Promise<string> {
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        const collect = (chunk: Buffer) => {
            output = (output + chunk.toString()).slice(-8_000);
            if (options.verbose)
                process.stderr.write(chunk);
        };
        child.stdout.on("data", collect);
        child.stderr.on("data", collect);
        child.on("error", reject);
        child.on("close", (code) => code === 0
            ? resolve(output)
            : reject(new Error(`${command} ${args.slice(0, 3).join(" ")} exited with ${code}: ${output.trim().split("\n").slice(-3).join(" | ")}`)));
    });
}

function python(): string {
    return process.env.MCPGUARD_PYTHON ?? "python3";
}

const verbose = () => process.stderr.isTTY === true;

async function pipDownload(packages: string[], dest: string): Promise<void> {
    await run(python(), ["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", dest, ...packages], { verbose: verbose() });
}

const concatenateFromWheels = `
import sys, zipfile, glob, os
dest, out, members = sys.argv[1], sys.argv[2], sys.argv[3:]
wheels = [zipfile.ZipFile(w) for w in glob.glob(os.path.join(dest, "*.whl"))]
with open(out, "wb") as o:
    for m in members:
        z = next((w for w in wheels if m in w.namelist()), None)
        if z is None: sys.exit("no downloaded wheel contains " + m)
        with z.open(m) as f:
            while True:
                b = f.read(1 << 20)
                if not b: break
                o.write(b)
`;

/** Downloads wheels with pip by package name and concatenates the named members into `target`. */
export async function fetchFromPypi(packages: string[], files: string[], target: string, workDir: string): Promise<void> {
    await pipDownload(packages, workDir);
    await run(python(), ["-c", concatenateFromWheels, workDir, target, ...files]);
}

const extractDir = `
import sys, zipfile, glob, os
dest, prefix, out = sys.argv[1], sys.argv[2].rstrip("/") + "/", sys.argv[3]
for w in glob.glob(os.path.join(dest, "*.whl")):
    z = zipfile.ZipFile(w)
    for m in z.namelist():
        if m.startswith(prefix):
            z.extract(m, out)
`;

/** node-llama-cpp's git bundle of llama.cpp: the nearest node_modules above this package that holds it. */
function nodeLlamaCppBundle(): string {
    for (let dir = packageRoot; ; dir = path.dirname(dir)) {
        const candidate = path.join(dir, "node_modules", "node-llama-cpp", "llama", "gitRelease.bundle");
        if (existsSync(candidate))
            return candidate;
        if (path.dirname(dir) === dir)
            throw new Error("node-llama-cpp's llama/gitRelease.bundle was not found in any node_modules above " + packageRoot);
    }
}

/** llama.cpp's source, as node-llama-cpp ships it (a git bundle), checked out once into the cache. */
export async function llamaCppSource(): Promise<string> {
    const dir = path.join(mcpguardHome(), "llama.cpp");
    if (existsSync(path.join(dir, "convert_hf_to_gguf.py")))
        return dir;
    const bundle = nodeLlamaCppBundle();
    await rm(dir, { recursive: true, force: true });
    await run("git", ["clone", "--quiet", bundle, dir]);
    return dir;
}

/** A virtual environment with the pinned Python tools (models/python/requirements.txt), made once. */
export async function pythonEnv(): Promise<string> {
    const dir = path.join(mcpguardHome(), "python-env");
    const bin = path.join(dir, "bin", "python");
    if (existsSync(path.join(dir, ".complete")))
        return bin;
    const llama = await llamaCppSource();
    await rm(dir, { recursive: true, force: true });
    await run(python(), ["-m", "venv", dir]);
    await run(bin, ["-m", "pip", "install", "--quiet", "-r", path.join(packageRoot, "models", "python", "requirements.txt"),
        path.join(llama, "gguf-py")], { verbose: verbose() });
    await writeFile(path.join(dir, ".complete"), "ok\n");
    return bin;
}

/** Downloads a Hugging Face-format model from PyPI and converts it with llama.cpp's own converter. */
export async function convertFromPypi(packages: string[], modelDir: string, outtype: string, target: string, workDir: string): Promise<void> {
    await pipDownload(packages, workDir);
    const extracted = path.join(workDir, "extracted");
    await run(python(), ["-c", extractDir, workDir, modelDir, extracted]);
    const bin = await pythonEnv();
    const converter = path.join(await llamaCppSource(), "convert_hf_to_gguf.py");
    const converted = path.join(workDir, "converted.gguf");
    await run(bin, [converter, path.join(extracted, modelDir), "--outtype", outtype, "--outfile", converted]);
    await rename(converted, target);
}
