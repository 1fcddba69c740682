// The editor (CodeMirror 6), loaded as a chunk of its own by the views that edit: JavaScript,
// TypeScript or JSON with highlighting, and problems from a deploy marked where they are.
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { javascript } from "@codemirror/lang-javascript";
import { json, jsonLanguage, jsonParseLinter } from "@codemirror/lang-json";
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { lintGutter, linter, setDiagnostics, type Diagnostic } from "@codemirror/lint";
import { Compartment, EditorState, type Text } from "@codemirror/state";
import { drawSelection, EditorView, highlightActiveLine, keymap, lineNumbers } from "@codemirror/view";

export type EditorLanguage = "ts" | "js" | "json";

/** A problem at a line and column (1-based), or at a path of JSON keys ("schedules", "0", "cron"). */
export interface Problem {
  message: string;
  line?: number;
  column?: number;
  path?: string[];
}

export interface EditorHandle {
  text(): string;
  setText(text: string): void;
  setLanguage(language: EditorLanguage): void;
  /** Marks the problems in the text (replacing any marked before); [] clears them. */
  mark(problems: Problem[]): void;
  destroy(): void;
}

function languageOf(language: EditorLanguage) {
  if (language === "json") return [json(), linter(jsonParseLinter(), { delay: 300 })];
  return javascript({ typescript: language === "ts" });
}

export function createEditor(parent: HTMLElement, options: { text: string; language: EditorLanguage; label: string; onChange?: (text: string) => void }): EditorHandle {
  const language = new Compartment();
  let marked = false;
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: options.text,
      extensions: [
        lineNumbers(),
        history(),
        drawSelection(),
        indentOnInput(),
        bracketMatching(),
        highlightActiveLine(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        lintGutter(),
        keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
        language.of(languageOf(options.language)),
        EditorView.contentAttributes.of({ "aria-label": options.label }),
        // The page's Content-Security-Policy admits only <style> elements with its nonce.
        EditorView.cspNonce.of(document.querySelector<HTMLMetaElement>('meta[name="csp-nonce"]')?.content ?? ""),
        EditorView.updateListener.of((update) => {
          if (!update.docChanged) return;
          options.onChange?.(update.state.doc.toString());
          // What a deploy found is about the text it was given: an edit clears it.
          if (marked) {
            marked = false;
            queueMicrotask(() => view.dispatch(setDiagnostics(view.state, [])));
          }
        }),
      ],
    }),
  });
  return {
    text: () => view.state.doc.toString(),
    setText: (text) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } }),
    setLanguage: (next) => view.dispatch({ effects: language.reconfigure(languageOf(next)) }),
    mark(problems) {
      const doc = view.state.doc;
      const diagnostics = problems.map((problem) => ({ ...rangeOf(doc, problem), severity: "error", message: problem.message }) as Diagnostic);
      view.dispatch(setDiagnostics(view.state, diagnostics));
      marked = diagnostics.length > 0;
      if (diagnostics[0]) view.dispatch({ selection: { anchor: diagnostics[0].from }, scrollIntoView: true });
    },
    destroy: () => view.destroy(),
  };
}

function rangeOf(doc: Text, problem: Problem): { from: number; to: number } {
  if (problem.path) return jsonRange(doc.toString(), problem.path);
  if (problem.line === undefined) return { from: 0, to: Math.min(doc.length, doc.line(1).to) };
  const line = doc.line(Math.min(Math.max(problem.line, 1), doc.lines));
  const from = Math.min(line.from + Math.max((problem.column ?? 1) - 1, 0), line.to);
  return { from, to: from < line.to ? line.to : from };
}

/** Where the value at `path` is in a JSON text: the property that holds it, or the nearest one found. */
function jsonRange(text: string, path: string[]): { from: number; to: number } {
  let node = jsonLanguage.parser.parse(text).topNode.firstChild;
  let found = node ? { from: node.from, to: Math.min(node.to, node.from + 1) } : { from: 0, to: 0 };
  for (const key of path) {
    if (!node) break;
    const children = [];
    for (let child = node.firstChild; child; child = child.nextSibling) children.push(child);
    if (node.name === "Object") {
      const property = children.find((child) => child.name === "Property" && child.firstChild && keyOf(text.slice(child.firstChild.from, child.firstChild.to)) === key);
      if (!property) break;
      found = { from: property.from, to: property.to };
      node = property.lastChild;
    } else if (node.name === "Array") {
      const item = children.filter((child) => !["[", "]", ","].includes(child.name) && !child.type.isError)[Number(key)];
      if (!item) break;
      found = { from: item.from, to: item.to };
      node = item;
    } else {
      break;
    }
  }
  return found;
}

function keyOf(quoted: string): string | undefined {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    return undefined;
  }
}
