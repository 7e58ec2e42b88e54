import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { parseRequest, RequestValidationError, type GuardRequest } from "./request.js";

export const labels = ["attack", "benign"] as const;
export const categories = ["MCE", "RAC", "CT", "EXFIL", "BENIGN"] as const;
export const forms = ["prompt", "toolcall", "trade"] as const;

export type Label = typeof labels[number];
export type Category = typeof categories[number];
export type Form = typeof forms[number];

/** One labelled example of a preference data set. */
export type Example = {
    id: string,
    label: Label,
    category: Category,
    form: Form,
    request: GuardRequest,
    /** The hand-written seed this example was derived from (examples of one family share a split). */
    family?: string,
    nearMiss?: boolean,
    technique?: string
};

const exampleSchema = z.object({
    id: z.string().min(1),
    label: z.enum(labels),
    category: z.enum(categories),
    form: z.enum(forms),
    request: z.unknown(),
    family: z.string().optional(),
    nearMiss: z.boolean().optional(),
    technique: z.string().optional()
}).refine((e) => (e.label === "benign") === (e.category === "BENIGN"), {
    message: "category must be BENIGN exactly when label is benign", path: ["category"]
});

/** A line of a data file that breaks the schema; names the file, line and field. */
export class DatasetError extends Error {
    constructor(file: string, line: number, message: string) {
        super(`${file}:${line}: ${message}`);
        this.name = "DatasetError";
    }
}

/** Where the shipped data set lives. */
export const defaultDataDir = fileURLToPath(new URL("../models/data/mcp-fba/", import.meta.url));
export const defaultTrainFile = defaultDataDir + "train.jsonl";
export const defaultTestFile = defaultDataDir + "test.jsonl";

/** Reads a JSON Lines file into parsed values (blank lines skipped), with line numbers in errors. */
export async function readJsonl(file: string): Promise<{ line: number, value: unknown }[]> {
    const text = await readFile(file, "utf8");
    const rows: { line: number, value: unknown }[] = [];
    text.split("\n").forEach((raw, index) => {
        if (raw.trim() === "")
            return;
        try {
            rows.push({ line: index + 1, value: JSON.parse(raw) });
        } catch (err) {
            throw new DatasetError(file, index + 1, `not valid JSON (${(err as Error).message})`);
        }
    });
    return rows;
}

/** The first issue of a failed schema check, as a DatasetError naming the file, line and field. */
function schemaError(file: string, line: number, error: z.ZodError): DatasetError {
    const issue = error.issues[0]!;
    return new DatasetError(file, line, `${issue.path.map(String).join(".") || "line"}: ${issue.message}`);
}

/** Validates a line's request, naming the file and line when it is not a valid request. */
function requestAt(value: unknown, file: string, line: number): GuardRequest {
    try {
        return parseRequest(value);
    } catch (err) {
        if (err instanceof RequestValidationError)
            throw new DatasetError(file, line, `request.${err.field}: ${err.message}`);
        throw err;
    }
}

/** Validates one parsed line as an Example. */
export function parseExample(value: unknown, file = "<input>", line = 0): Example {
    const result = exampleSchema.safeParse(value);
    if (!result.success)
        throw schemaError(file, line, result.error);
    return { ...result.data, request: requestAt(result.data.request, file, line) } as Example;
}

/** Parses every line of a JSONL file with `parse`; ids must be unique. */
async function loadUnique<T extends { id: string }>(file: string, parse: (value: unknown, file: string, line: number) => T): Promise<T[]> {
    const seen = new Set<string>();
    return (await readJsonl(file)).map(({ line, value }) => {
        const item = parse(value, file, line);
        if (seen.has(item.id))
            throw new DatasetError(file, line, `duplicate id "${item.id}"`);
        seen.add(item.id);
        return item;
    });
}

/** Loads and validates a labelled JSONL data set; ids must be unique. */
export function loadExamples(file: string): Promise<Example[]> {
    return loadUnique(file, parseExample);
}

/** A line of an evaluation set as the contract defines it: `{ id, label, request }`, other fields ignored. */
export type LabelledRequest = Pick<Example, "id" | "label" | "request">;

const labelledSchema = z.object({ id: z.union([z.string().min(1), z.number()]), label: z.enum(labels), request: z.unknown() });

/** Loads an evaluation set (ours or a third party's): ids must be unique, every request valid. */
export function loadLabelledRequests(file: string): Promise<LabelledRequest[]> {
    return loadUnique(file, (value, at, line) => {
        const result = labelledSchema.safeParse(value);
        if (!result.success)
            throw schemaError(at, line, result.error);
        return { id: String(result.data.id), label: result.data.label, request: requestAt(result.data.request, at, line) };
    });
}
