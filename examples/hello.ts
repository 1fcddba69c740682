// The smallest function: JSON for every request.
import type { Handler } from "isobox";

export default {
  async fetch(request) {
    const url = new URL(request.url);
    return Response.json({ hello: url.searchParams.get("name") ?? "world" });
  },
} satisfies Handler;
