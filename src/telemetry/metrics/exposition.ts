// The Prometheus text exposition format 0.0.4: a HELP and TYPE line per family, then its samples,
// label values escaped.

/** Content type of the text exposition format 0.0.4. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export class Exposition {
  private readonly lines: string[] = [];

  family(name: string, type: "counter" | "gauge" | "histogram", help: string): void {
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`, `# TYPE ${name} ${type}`);
  }

  sample(name: string, labels: Record<string, string> | undefined, value: number): void {
    let line = name;
    if (labels) {
      const pairs: string[] = [];
      for (const key in labels) pairs.push(`${key}="${escapeLabel(labels[key])}"`);
      line += `{${pairs.join(",")}}`;
    }
    this.lines.push(`${line} ${formatValue(value)}`);
  }

  text(): string {
    return this.lines.join("\n") + "\n";
  }
}

/** Label values escape backslash, double quote and line feed (and nothing else). */
export function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
