// The console's entry: the page's one script. Views load from here; the editor is a chunk of its own.
import { render } from "hono/jsx/dom";
import { App } from "./app.tsx";
import "./style.css";

render(<App />, document.getElementById("app")!);
