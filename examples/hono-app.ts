// A whole Hono app as one function: it runs here exactly as it does in Node or on Workers.
import { Hono } from "hono";

type Todo = { id: number; title: string; done: boolean };
const todos = new Map<number, Todo>();
let nextId = 1;

const app = new Hono();

app.get("/", (c) => c.text("todo api"));
app.get("/todos", (c) => {
  const done = c.req.query("done");
  const list = [...todos.values()].filter((t) => done === undefined || String(t.done) === done);
  return c.json(list);
});
app.post("/todos", async (c) => {
  const body = await c.req.json<{ title?: unknown }>();
  if (typeof body.title !== "string" || body.title === "") return c.json({ error: "title is required" }, 400);
  const todo = { id: nextId++, title: body.title, done: false };
  todos.set(todo.id, todo);
  return c.json(todo, 201, { location: `/todos/${todo.id}` });
});
app.get("/todos/:id", (c) => {
  const todo = todos.get(Number(c.req.param("id")));
  return todo ? c.json(todo) : c.notFound();
});
app.patch("/todos/:id", async (c) => {
  const todo = todos.get(Number(c.req.param("id")));
  if (!todo) return c.notFound();
  Object.assign(todo, await c.req.json<Partial<Todo>>());
  return c.json(todo);
});

export default app;
