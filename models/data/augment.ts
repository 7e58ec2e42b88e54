/**
 * Programmatic augmentation on top of the hand-written seeds: each variant keeps the seed's meaning and
 * changes the surface (user names, hosts, addresses, key material, tone). Deterministic for a given seed.
 */

export type Rng = () => number;

/** mulberry32: a small, fast, seedable PRNG. */
export function rng(seed: number): Rng {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

export function hashString(text: string): number {
    let h = 2166136261;
    for (let i = 0; i < text.length; i++)
        h = Math.imul(h ^ text.charCodeAt(i), 16777619);
    return h >>> 0;
}

const pick = <T>(r: Rng, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;

const userNames = ["amara", "ben", "chen", "dmitri", "elif", "farah", "gus", "hana", "ivan", "joon", "kofi", "lena", "marco",
    "nadia", "oscar", "pia", "quinn", "rahul", "sven", "tomoko", "uma", "vero", "wes", "ximena", "yusuf", "zoe", "devops", "ci"];
const hostWords = ["northwind", "bluefin", "larkspur", "quillstack", "tidepool", "ironleaf", "mossgate", "brightline", "cobaltbay",
    "fernhollow", "kitewire", "oakridge-labs", "pinecrest", "redfern", "saltmarsh", "tallowbox", "umberfield", "vantapeak"];
const hostPrefixes = ["cdn", "files", "sync", "mirror", "static", "api", "hooks", "dl", "assets", "relay", "updates", "share", "drop", "get"];
const hostSuffixes = ["example", "example.com", "example.net", "example.org", "test"];
const base64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function swapUsers(text: string, map: Map<string, string>): string {
    return text.replace(/(\/home\/|\/Users\/)([a-z][a-z0-9_-]{1,20})\b/g, (_m, root: string, user: string) =>
        root + (map.get(user) ?? user));
}

function swapHosts(text: string, map: Map<string, string>): string {
    return text.replace(/(:\/\/|@)([a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:example|test|invalid)(?:\.com|\.net|\.org)?)\b/gi,
        (_m, lead: string, host: string) => lead + (map.get(host.toLowerCase()) ?? host));
}

function swapIps(text: string, r: Rng, map: Map<string, string>): string {
    return text.replace(/\b(203\.0\.113|198\.51\.100|192\.0\.2)\.(\d{1,3})\b/g, (whole) => {
        if (!map.has(whole))
            map.set(whole, `${pick(r, ["203.0.113", "198.51.100", "192.0.2"])}.${1 + Math.floor(r() * 253)}`);
        return map.get(whole)!;
    });
}

function swapKeys(text: string, r: Rng): string {
    return text.replace(/AAAA[A-Za-z0-9+/]{24,}/g, (key) =>
        key.slice(0, 20) + Array.from({ length: key.length - 20 }, () => pick(r, base64.split(""))).join(""));
}

function collect(text: string, pattern: RegExp, group: number): string[] {
    return [...text.matchAll(pattern)].map((m) => m[group]!.toLowerCase());
}

const openers = ["hey, ", "hi! ", "ok so ", "quick one: ", "morning! ", "hello, ", "so, ", "hiya - ", "one more thing: ", "yo ",
    "hey there, ", "sorry to bug you, ", "when you get a sec: ", "um ", "right, ", "ok, next: ", "hi again - ", "afternoon! "];
const closers = [" thanks!", " thank you so much", " cheers", " ty!", " appreciate it :)", " thx", " no rush", "", ""];

function addTypo(text: string, r: Rng): string {
    const words = [...text.matchAll(/(?<![\w./~-])[a-z]{5,}(?![\w./-])/g)];
    if (words.length === 0)
        return text;
    const word = pick(r, words);
    const i = 1 + Math.floor(r() * (word[0].length - 2));
    const typo = word[0].slice(0, i) + word[0][i + 1] + word[0][i] + word[0].slice(i + 2);
    return text.slice(0, word.index) + typo + text.slice(word.index! + word[0].length);
}

/** Changes the tone of a user prompt: an opener, a closer, lower case, dropped punctuation, a typo. */
export function retone(prompt: string, r: Rng): string {
    let text = prompt.trim();
    if (text === "")
        return text;
    if (r() < 0.35) {
        const opener = pick(r, openers);
        text = opener + (opener !== "" && /^[A-Z][a-z]/.test(text) ? text[0]!.toLowerCase() + text.slice(1) : text);
    }
    if (r() < 0.4)
        text = text.replace(/[.!]$/, "") + pick(r, closers);
    if (r() < 0.2)
        text = text.toLowerCase();
    if (r() < 0.3)
        text = addTypo(text, r);
    return text;
}

/** One augmented variant of a request (as JSON text), with consistent swaps across all its fields. */
export function augmentRequest(requestJson: string, r: Rng): string {
    const users = new Map<string, string>();
    for (const user of collect(requestJson, /(?:\/home\/|\/Users\/)([a-z][a-z0-9_-]{1,20})\b/g, 1))
        if (r() < 0.7) users.set(user, pick(r, userNames.filter((u) => u !== user)));
    const hosts = new Map<string, string>();
    for (const host of collect(requestJson, /(?::\/\/|@)([a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:example|test|invalid)(?:\.com|\.net|\.org)?)\b/gi, 1))
        if (r() < 0.7) hosts.set(host, `${pick(r, hostPrefixes)}.${pick(r, hostWords)}.${pick(r, hostSuffixes)}`);

    const request = JSON.parse(requestJson) as { prompt?: string };
    if (request.prompt != null)
        request.prompt = retone(request.prompt, r);
    let text = JSON.stringify(request);
    text = swapUsers(text, users);
    text = swapHosts(text, hosts);
    text = swapIps(text, r, new Map());
    text = swapKeys(text, r);
    return text;
}
