import { ensureModel, readManifest } from "../../lib/models.js";

/** Fetches the default models once into MCPGUARD_HOME (a no-op when they are cached and verified). */
export default async function setup(): Promise<void> {
    const { defaults } = readManifest();
    await ensureModel(defaults.decision);
    await ensureModel(defaults.embedder);
}
