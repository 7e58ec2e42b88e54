import type { ContextItem } from "../request.js";

/** Bounds of a session's history of untrusted content (tool results, resources, fetched pages). */
export type HistoryLimits = {
    /** Items kept; the oldest go first. Default 16. */
    maxItems: number,
    /** Characters kept over all items; the oldest go first. Default 65,536. */
    maxChars: number,
    /** Characters kept of one item (its head and tail). Default 8,192. */
    maxItemChars: number
};

export const defaultHistoryLimits: HistoryLimits = Object.freeze({ maxItems: 16, maxChars: 65_536, maxItemChars: 8_192 });

/** Keeps the head and tail of `text` within `max` characters, marking the cut. */
export function keepEnds(text: string, max: number): string {
    if (text.length <= max)
        return text;
    const marker = `\n[... ${text.length - max} characters left out by mcpguard ...]\n`;
    const room = Math.max(0, max - marker.length);
    const head = Math.ceil(room * 0.6);
    return text.slice(0, head) + marker + text.slice(text.length - (room - head));
}

/** A ring buffer of the recent untrusted content of one MCP session: the TRADE channel the guard sees as context. */
export class SessionHistory {
    readonly limits: HistoryLimits;
    #items: ContextItem[] = [];
    #chars = 0;

    constructor(limits: Partial<HistoryLimits> = {}) {
        this.limits = { ...defaultHistoryLimits, ...limits };
    }

    /** Records one item (truncated to `maxItemChars`); empty content is ignored. */
    add(item: ContextItem): void {
        const content = keepEnds(item.content, Math.min(this.limits.maxItemChars, this.limits.maxChars));
        if (content.trim() === "" || this.limits.maxItems === 0)
            return;
        const source = item.source?.slice(0, 2_048);
        this.#items.push(source != null ? { source, content } : { content });
        this.#chars += content.length;
        this.#evict();
    }

    /** The items, oldest first (copies). */
    items(): ContextItem[] {
        return this.#items.map((item) => ({ ...item }));
    }

    get size(): number {
        return this.#items.length;
    }

    clear(): void {
        this.#items = [];
        this.#chars = 0;
    }

    #evict(): void {
        while (this.#items.length > this.limits.maxItems || this.#chars > this.limits.maxChars) {
            const dropped = this.#items.shift()!;
            this.#chars -= dropped.content.length;
        }
    }
}
