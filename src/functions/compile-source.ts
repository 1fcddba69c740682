// A function deployed as source (the console's editor, `{source, language}`): TypeScript or
// JavaScript compiled by esbuild into the one self-contained module a version runs. Types are
// stripped and nothing is bundled: an import is refused by the module check that follows. The
// source map keeps the source, so stacks and problems point at the author's lines.
import { IsoboxError } from "../errors.ts";

export type SourceLanguage = "ts" | "js";

export interface Compiled {
  code: string;
  sourceMap: string;
}

export async function compileSource(source: string, language: SourceLanguage, filename: string): Promise<Compiled> {
  const { transform } = await import("esbuild");
  try {
    const result = await transform(source, {
      loader: language,
      format: "esm",
      target: "es2024",
      sourcemap: "external",
      sourcefile: filename,
      logLevel: "silent",
    });
    return { code: result.code, sourceMap: result.map };
  } catch (error) {
    const first = (error as { errors?: { text: string; location?: { line: number; column: number } | null }[] }).errors?.[0];
    if (!first) throw error;
    const where = first.location ? { line: first.location.line, column: first.location.column + 1 } : {};
    const at = first.location ? ` at line ${where.line}, column ${where.column}` : "";
    throw new IsoboxError("ERR_COMPILE", `${filename}: ${first.text}${at}`, { details: { field: "source", ...where } });
  }
}
