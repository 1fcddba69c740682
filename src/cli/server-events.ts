// The data of each server-sent event of a response body (the logs API's follow stream), as the
// CLI reads it: `isobox logs --follow` and `isobox dev`.
export async function* serverEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const data = buffer.slice(0, end).split("\n").filter((field) => field.startsWith("data:")).map((field) => field.slice(5).trimStart()).join("\n");
      buffer = buffer.slice(end + 2);
      if (data) yield data;
    }
  }
}
