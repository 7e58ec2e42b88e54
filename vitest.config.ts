import { defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        projects: [
            { test: { name: "unit", include: ["test/unit/**/*.test.ts"], globalSetup: ["test/unit/build-native.ts"], testTimeout: 60_000, hookTimeout: 600_000 } },
            {
                test: {
                    name: "model",
                    include: ["test/model/**/*.test.ts"],
                    globalSetup: ["test/unit/build-native.ts", "test/model/fetch-models.ts"],
                    testTimeout: 600_000,
                    hookTimeout: 900_000,
                    fileParallelism: false
                }
            }
        ]
    }
});
