/** What a LineSplitter reports: whole lines (with their newline), or the pieces of a line over the size limit. */
export type LineEvents = {
    line(bytes: Buffer): void,
    /** A piece of a line longer than the limit; `last` is true for the piece that ends it. */
    oversized(piece: Buffer, last: boolean): void
};

/** Splits a byte stream into newline-delimited lines without decoding them, so that they can be relayed byte for byte. */
export class LineSplitter {
    readonly maxLineBytes: number;
    readonly #events: LineEvents;
    #parts: Buffer[] = [];
    #length = 0;
    #inOversized = false;

    constructor(maxLineBytes: number, events: LineEvents) {
        this.maxLineBytes = maxLineBytes;
        this.#events = events;
    }

    push(chunk: Buffer): void {
        let start = 0;
        while (start < chunk.length) {
            const newline = chunk.indexOf(10, start);
            const end = newline === -1 ? chunk.length : newline + 1;
            this.#take(chunk.subarray(start, end), newline !== -1);
            start = end;
        }
    }

    /** Flushes a last line that has no newline. */
    end(): void {
        if (this.#inOversized)
            this.#take(Buffer.alloc(0), true);
        else if (this.#length > 0)
            this.#events.line(this.#drain());
    }

    #take(piece: Buffer, complete: boolean): void {
        if (!this.#inOversized && this.#length + piece.length > this.maxLineBytes) {
            this.#inOversized = true;
            piece = Buffer.concat([this.#drain(), piece]);
        }
        if (this.#inOversized) {
            this.#inOversized = !complete;
            this.#events.oversized(piece, complete);
            return;
        }
        this.#parts.push(piece);
        this.#length += piece.length;
        if (complete)
            this.#events.line(this.#drain());
    }

    #drain(): Buffer {
        const bytes = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts);
        this.#parts = [];
        this.#length = 0;
        return bytes;
    }
}
