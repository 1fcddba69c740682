// Guest stacks on the author's own lines: `isobox deploy` keeps esbuild's source map with the
// version, and a stored stack's frames in the bundle ("file:///acme/fn.js:120:7") are rewritten to
// the original file and position ("(src/agent.ts:14:9)"). Node's own SourceMap reads the map, so
// no library is needed for it.
import { SourceMap, type SourceMapPayload } from "node:module";

/** Parsed once per loaded version, on the first stack that needs it. */
export class StackMapper {
  private readonly raw: string | null;
  private map: SourceMap | null | undefined;
  constructor(raw: string | null) {
    this.raw = raw;
  }

  /** The stack with frames of `filename` mapped to their sources (unmapped frames unchanged). */
  apply(stack: string, filename: string): string {
    const map = this.parsed();
    if (!map) return stack;
    const frame = new RegExp(`${escape(filename)}:(\\d+):(\\d+)`, "g");
    return stack.replace(frame, (whole, line: string, column: string) => {
      const origin = map.findOrigin(Number(line), Number(column));
      if (!("fileName" in origin) || !origin.fileName) return whole;
      return `${origin.fileName.replace(/^(\.\.\/)+/, "")}:${origin.lineNumber}:${origin.columnNumber}`;
    });
  }

  private parsed(): SourceMap | null {
    if (this.map !== undefined) return this.map;
    try {
      this.map = this.raw ? new SourceMap(JSON.parse(this.raw) as SourceMapPayload) : null;
    } catch {
      this.map = null;
    }
    return this.map;
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
