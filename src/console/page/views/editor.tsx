// An editor in a view: CodeMirror loads on first use (its own chunk), then `handle` drives it.
import { useEffect, useRef, useState } from "hono/jsx/dom";
import type { EditorHandle, EditorLanguage } from "../editor/codemirror.ts";

export function Editor({ label, text, language, handle }: { label: string; text: string; language: EditorLanguage; handle: { current: EditorHandle | null } }) {
  const parent = useRef<HTMLDivElement>(null);
  const latest = useRef({ text, language });
  latest.current = { text, language };
  const [failed, setFailed] = useState<string | undefined>(undefined);
  // One editor for the component's life; a new text (a reload after Deploy) replaces its content.
  useEffect(() => {
    let editor: EditorHandle | undefined;
    let gone = false;
    import("../editor/codemirror.ts").then(({ createEditor }) => {
      if (gone || !parent.current) return;
      editor = createEditor(parent.current, { ...latest.current, label });
      handle.current = editor;
    }, (error: Error) => setFailed(error.message));
    return () => {
      gone = true;
      editor?.destroy();
      if (handle.current === editor) handle.current = null;
    };
  }, []);
  useEffect(() => {
    if (handle.current && handle.current.text() !== text) handle.current.setText(text);
  }, [text]);
  useEffect(() => {
    handle.current?.setLanguage(language);
  }, [language]);
  return (
    <div class="editor-box">
      <div class="editor-label">{label}</div>
      <div class="editor" ref={parent} />
      {failed ? <p class="error" role="alert">The editor did not load: {failed}</p> : null}
    </div>
  );
}
