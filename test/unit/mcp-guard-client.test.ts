import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { GuardRequest } from "../../lib/request.js";
import { guardClient, ToolCallRefusedError, type AuditedCall, type GuardClientOptions } from "../../lib/mcp/guard-client.js";
import type { CallJudge } from "../../lib/mcp/judge.js";
import { fakeDecision, tempDir, writeFakeServer } from "../mcp-helpers.js";

const clients: Client[] = [];
afterEach(async () => { await Promise.all(clients.splice(0).map((c) => c.close())); });

/** A stand-in judge that records the requests it saw and refuses calls whose arguments mention `refuseWhen`. */
function recordingJudge(refuseWhen = "authorized_keys") {
    const seen: GuardRequest[] = [];
    const judge: CallJudge = {
        shouldRefuse: async (request) => {
            seen.push(request as GuardRequest);
            return fakeDecision(JSON.stringify(request).includes(refuseWhen) && JSON.stringify((request as GuardRequest).toolCalls).includes(refuseWhen));
        }
    };
    return { judge, seen };
}

async function connectedClient(): Promise<Client> {
    const client = new Client({ name: "test-agent", version: "1.0.0" });
    clients.push(client);
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [writeFakeServer(tempDir("client"))], stderr: "pipe" }));
    return client;
}

describe("guardClient with stand-in judges", () => {
    it("builds the request from the prompt, the call, the session's results and the server's tools", async () => {
        const client = await connectedClient();
        const { judge, seen } = recordingJudge();
        const session = guardClient(client, judge, { prompt: () => "save my chili notes" });
        session.addContext({ source: "http://127.0.0.1/page", content: "a page" });
        await client.callTool({ name: "echo", arguments: { text: "first" } });
        await client.callTool({ name: "echo", arguments: { text: "second" } });
        expect(seen[1]).toMatchObject({
            prompt: "save my chili notes",
            toolCalls: [{ server: "fake", name: "echo", arguments: { text: "second" } }],
            context: [{ source: "http://127.0.0.1/page", content: "a page" }, { content: JSON.stringify({ text: "first" }) }],
            tools: expect.arrayContaining([{ name: "echo", description: "the echo tool" }])
        });
    });

    it("throws ToolCallRefusedError carrying the decision, and never calls the server", async () => {
        const client = await connectedClient();
        const audits: [unknown, AuditedCall][] = [];
        guardClient(client, recordingJudge().judge, { audit: (decision, call) => audits.push([decision, call]) });
        const refused = await client.callTool({ name: "echo", arguments: { path: "~/.ssh/authorized_keys" } }).catch((e: unknown) => e);
        expect(refused).toBeInstanceOf(ToolCallRefusedError);
        expect((refused as ToolCallRefusedError).decision?.category).toBe("RAC");
        expect((refused as Error).message).toMatch(/remote access control.*\n.*\n.*train-0412/);
        expect(audits[0]?.[1]).toMatchObject({ name: "echo", outcome: "refused" });
    });

    it("returns a tool error result with onRefuse: result", async () => {
        const client = await connectedClient();
        guardClient(client, recordingJudge().judge, { onRefuse: "result" });
        const result = await client.callTool({ name: "echo", arguments: { path: "~/.ssh/authorized_keys" } });
        expect(result.isError).toBe(true);
        expect((result.content as { text: string }[])[0]!.text).toMatch(/mcpguard refused the call to fake\.echo/);
    });

    it("skips listed tools, fails closed by default and open on request, and honours a time limit", async () => {
        const client = await connectedClient();
        const broken: CallJudge = { shouldRefuse: async () => { throw new Error("model fell over"); } };
        const session = guardClient(client, broken, { skipTools: ["echo"] });
        expect((await client.callTool({ name: "echo", arguments: { a: 1 } })).content).toEqual([{ type: "text", text: "{\"a\":1}" }]);
        session.release();
        const closed = guardClient(client, broken);
        await expect(client.callTool({ name: "garbage" })).rejects.toThrow(/could not judge.*model fell over/);
        closed.release();
        const slow: CallJudge = { shouldRefuse: () => new Promise(() => undefined) };
        const timed = guardClient(client, slow, { timeoutMs: 50 });
        await expect(client.callTool({ name: "echo" })).rejects.toThrow(/within 50 ms/);
        timed.release();
        guardClient(client, broken, { failMode: "open" });
        expect((await client.callTool({ name: "echo", arguments: { b: 2 } })).content).toEqual([{ type: "text", text: "{\"b\":2}" }]);
    });

    it("refreshes the tool descriptions after notifications/tools/list_changed, keeping the application's handler", async () => {
        const client = await connectedClient();
        const { judge, seen } = recordingJudge();
        const session = guardClient(client, judge);
        let applicationSaw = 0;
        const { ToolListChangedNotificationSchema } = await import("@modelcontextprotocol/sdk/types.js");
        client.setNotificationHandler(ToolListChangedNotificationSchema, () => { applicationSaw++; });
        await client.callTool({ name: "echo" });
        expect(seen[0]?.tools).toHaveLength(5);
        const transport = client.transport!;
        transport.onmessage?.({ jsonrpc: "2.0", method: "notifications/tools/list_changed" });
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(applicationSaw).toBe(1);
        const listings = vi.spyOn(client, "listTools");
        await client.callTool({ name: "echo" });
        await client.callTool({ name: "echo" });
        expect(listings).toHaveBeenCalledTimes(1);
        expect(session.tools).toHaveLength(5);
        expect(seen[2]?.tools).toHaveLength(5);
    });

    it("validates its options, naming the option", async () => {
        const client = new Client({ name: "x", version: "1" });
        const { judge } = recordingJudge();
        const bad = (options: unknown) => () => guardClient(client, judge, options as GuardClientOptions);
        expect(bad({ threshold: 2 })).toThrow(/options\.threshold/);
        expect(bad({ failMode: "sometimes" })).toThrow(/options\.failMode/);
        expect(bad({ skipTools: "echo" })).toThrow(/options\.skipTools/);
        expect(bad({ prompt: 3 })).toThrow(/options\.prompt/);
        expect(bad({ timeout: 3 })).toThrow(/options\.timeout/);
        expect(() => guardClient(client, {} as CallJudge)).toThrow(/guard/);
    });
});
