// What the CLI prints: lines for people on stdout, progress on stderr, JSON with --json.

/** A failure to print as one line (and a hint). Exit code 2 is a mistake in the command line. */
export class CliError extends Error {
  readonly exitCode: number;
  readonly hint?: string;
  constructor(message: string, exitCode = 1, hint?: string) {
    super(message);
    this.exitCode = exitCode;
    this.hint = hint;
  }
}

export interface Output {
  json: boolean;
  /** A result: JSON with --json, else the human text. */
  result(value: unknown, human: string): void;
  /** Progress of a long step, on stderr (silent with --json). */
  progress(message: string): void;
}

export function output(json: boolean): Output {
  const tty = process.stderr.isTTY;
  return {
    json,
    result(value, human) {
      process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human}\n`);
    },
    progress(message) {
      if (!json) process.stderr.write(tty ? `\x1b[2m${message}\x1b[0m\n` : `${message}\n`);
    },
  };
}

export function formatBytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** A log line as the API returns it (a run's logs, the logs endpoint). */
export interface LogLine {
  time: string;
  level: string;
  message: string;
  fields?: Record<string, unknown> | null;
}

/** Structured fields after the message: ` key=value …`, values as JSON. */
export function showFields(fields: LogLine["fields"]): string {
  if (!fields) return "";
  return Object.entries(fields).map(([key, value]) => ` ${key}=${JSON.stringify(value)}`).join("");
}
