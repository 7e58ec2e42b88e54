import { describe, expect, it } from "vitest";
import { getBackendInfo, NativeStore, toTokenList, type Label } from "../../lib/native.js";
import { piecesFor, segmentsFor, unitVectors } from "./native-fixtures.js";

const info = getBackendInfo();

describe.skipIf(!info.cudaAvailable)(`CUDA backend (${info.cudaAvailable ? "available" : info.cudaUnavailableReason})`, () => {
    const labels: Label[] = ["attack", "benign"];

    async function store(backend: "cpu" | "cuda", storage: "f32" | "f16") {
        const s = new NativeStore({ dimensions: 384, backend, storage });
        for (const [label, name] of labels.entries())
            await s.add(name, unitVectors(20000, 384, 50 + label), segmentsFor(20000, 100000 * (label + 1)));
        return s;
    }

    it.each(["f32", "f16"] as const)("really runs on the GPU and matches the CPU bit for bit (%s)", async (storage) => {
        const [cpu, cuda] = await Promise.all([store("cpu", storage), store("cuda", storage)]);
        expect(cuda.backend.backend).toBe("cuda");
        expect(cuda.backend.deviceBytes).toBeGreaterThan(20000 * 2 * 384 * (storage === "f16" ? 2 : 4));
        const queries = unitVectors(16, 384, 9);
        const requests = toTokenList(Array.from({ length: 16 }, (_, q) => [q, q + 1]));
        const [a, b] = await Promise.all([cpu, cuda].map((s) => s.retrieveAndAssemble(queries, 2, piecesFor(2), requests)));
        expect(b!.ids).toEqual(a!.ids);
        expect(b!.distances).toEqual(a!.distances);
        expect(b!.tokens).toEqual(a!.tokens);
        cpu.dispose();
        cuda.dispose();
        expect(() => cuda.backend).toThrow(/disposed/);
    });
});
