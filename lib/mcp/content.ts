import { requestLimits, type ToolInfo } from "../request.js";
import { keepEnds } from "./history.js";

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);

/** The text of one MCP content block (text, embedded resource, or a placeholder for media). */
function blockText(block: unknown): string {
    if (!isObject(block))
        return "";
    if (typeof block.text === "string")
        return block.text;
    if (isObject(block.resource))
        return typeof block.resource.text === "string" ? block.resource.text : `[binary resource ${String(block.resource.uri ?? "")}]`;
    if (block.type === "resource_link")
        return `[link to ${String(block.uri ?? "")}]`;
    return typeof block.type === "string" ? `[${block.type} content]` : "";
}

/** What a tools/call result says, as text: its content blocks, else its structured content. */
export function toolResultText(result: unknown): string {
    if (!isObject(result))
        return "";
    const blocks = Array.isArray(result.content) ? result.content.map(blockText).filter((t) => t !== "") : [];
    if (blocks.length > 0)
        return blocks.join("\n");
    return result.structuredContent !== undefined ? JSON.stringify(result.structuredContent) : "";
}

/** The text contents of a resources/read result, one item per resource. */
export function resourceTexts(result: unknown): { uri: string, text: string }[] {
    if (!isObject(result) || !Array.isArray(result.contents))
        return [];
    return result.contents.filter(isObject).map((c) => ({ uri: String(c.uri ?? ""), text: blockText({ resource: c }) }));
}

/** The tools of a tools/list result as the guard's request wants them (names and descriptions, within the limits). */
export function toolInfos(result: unknown): ToolInfo[] {
    if (!isObject(result) || !Array.isArray(result.tools))
        return [];
    const valid = result.tools.filter((t): t is Json => isObject(t) && typeof t.name === "string" && t.name !== "");
    return valid.slice(0, requestLimits.tools).map((t) => {
        const name = t.name as string;
        const info: ToolInfo = { name: name.slice(0, requestLimits.nameChars) };
        if (typeof t.description === "string")
            info.description = keepEnds(t.description, requestLimits.toolDescriptionChars);
        return info;
    });
}

/** Shortens long strings inside a value, keeping their ends, so that it serializes within `maxChars`. */
export function fitArguments(args: Record<string, unknown>, maxChars: number = requestLimits.toolCallArgumentChars): Record<string, unknown> {
    let cap = 16_384;
    let fitted = args;
    while (JSON.stringify(fitted).length > maxChars && cap >= 16) {
        fitted = shortenStrings(args, cap) as Record<string, unknown>;
        cap >>= 1;
    }
    return JSON.stringify(fitted).length <= maxChars ? fitted : { note: "arguments too large to judge" };
}

function shortenStrings(value: unknown, cap: number): unknown {
    if (typeof value === "string")
        return keepEnds(value, cap);
    if (Array.isArray(value))
        return value.slice(0, 256).map((v) => shortenStrings(v, cap));
    if (isObject(value))
        return Object.fromEntries(Object.entries(value).slice(0, 256).map(([k, v]) => [k.slice(0, cap), shortenStrings(v, cap)]));
    return value;
}
