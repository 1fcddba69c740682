// Commands that delete ask first on a terminal; --yes answers, and is needed without a terminal
// (a script must say so rather than delete by accident).
import { createInterface } from "node:readline/promises";
import { CliError } from "./output.ts";

export async function confirm(question: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw new CliError(`${question} Pass --yes to confirm (standard input is not a terminal)`, 2);
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await prompt.question(`${question} [y/N] `);
  prompt.close();
  if (!/^y(es)?$/i.test(answer.trim())) throw new CliError("Nothing was deleted");
}
