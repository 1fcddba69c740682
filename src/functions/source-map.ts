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
      const origin = this.origin(Number(line), Number(column));
      return origin ? `${origin.file}:${origin.line}:${origin.column}` : whole;
    });
  }

  /** Where a position of the module (1-based) came from, or undefined when the map does not say. */
  origin(line: number, column: number): { file: string; line: number; column: number } | undefined {
    const origin = this.parsed()?.findOrigin(line, column);
    if (!origin || !("fileName" in origin) || !origin.fileName) return undefined;
    return { file: origin.fileName.replace(/^(\.\.\/)+/, ""), line: origin.lineNumber, column: origin.columnNumber };
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

/**
 * The entry file of a bundle, from its source map's sources: esbuild writes the entry's modules in
 * import order, so the entry comes last (node_modules never is).
 */
export function entrySource(raw: string | null): { file: string; text: string } | undefined {
  if (!raw) return undefined;
  try {
    const map = JSON.parse(raw) as { sources?: unknown[]; sourcesContent?: unknown[] };
    const sources = map.sources ?? [];
    for (let i = sources.length - 1; i >= 0; i--) {
      const file = sources[i];
      const text = map.sourcesContent?.[i];
      if (typeof file === "string" && typeof text === "string" && !file.includes("node_modules/")) return { file: file.replace(/^(\.\.\/)+/, ""), text };
    }
  } catch {
    return undefined;
  }
  return undefined;
}
