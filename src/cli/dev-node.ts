// The node `isobox dev` works against: ISOBOX_URL's, or an embedded one in this process (PGlite in
// ./.isobox unless DATABASE_URL says otherwise), which runs jobs and fires schedules as any node.
import { serve } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import { apiClient, type ApiClient } from "./client.ts";
import { CliError } from "./output.ts";

export interface DevNode {
  client: ApiClient;
  url: string;
  close(): Promise<void>;
}

export async function devNode(port: number): Promise<DevNode> {
  if (process.env.ISOBOX_URL) {
    const client = apiClient();
    return { client, url: client.baseUrl, close: async () => {} };
  }
  const { createIsobox } = await import("../isobox.ts");
  const box = await createIsobox({});
  let server: ReturnType<typeof serve>;
  try {
    server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
      const s = serve({ fetch: box.app.fetch, port, hostname: "127.0.0.1" }, () => resolve(s));
      s.once("error", reject);
    });
  } catch (error) {
    await box.close();
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") throw new CliError(`Port ${port} is in use: pass --port <another> or set PORT`);
    throw error;
  }
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const token = box.adminToken.value;
  if (!token) throw new CliError("The embedded node has no admin token to deploy with: set ISOBOX_ADMIN_TOKEN to the cluster's");
  return {
    client: apiClient({ url, token }),
    url,
    async close() {
      // The terminal's own log stream is one of the open connections: closed with the rest.
      const closed = new Promise((resolve) => server.close(resolve));
      (server as import("node:http").Server).closeAllConnections?.();
      await closed;
      await box.close();
    },
  };
}
