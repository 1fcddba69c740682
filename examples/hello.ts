// The smallest function: JSON for every request.
import type { Handler } from "isobox";

export default {
  async fetch(request) {
    const url = new URL(request.url);
    console.log("hello", { name: url.searchParams.get("name") });
    return Response.json({ hello: url.searchParams.get("name") ?? "world" });
  },
} satisfies Handler;
