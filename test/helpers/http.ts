// Small HTTP helpers for suites that talk to a TestBox: one call, its status, its parsed body.

export interface Answer {
  status: number;
  /** The JSON body, or undefined when the body is not JSON. */
  body: any;
  text: string;
  /** Wall-clock time of the call. */
  ms: number;
}

/** One request; a call that gets no answer within `timeoutMs` fails the test instead of hanging it. */
export async function call(url: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<Answer> {
  const { timeoutMs = 15_000, ...rest } = init;
  const started = performance.now();
  const response = await fetch(url, { ...rest, signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, body, text, ms: performance.now() - started };
}

/** "503 ERR_CPU_LIMIT" for an error answer, "200" otherwise: one string to compare in asserts. */
export function outcome(answer: Answer): string {
  const code = answer.body?.error?.code;
  return typeof code === "string" ? `${answer.status} ${code}` : String(answer.status);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** CPU time (ms, user + system) this process uses during `ms` of waiting. */
export async function cpuWhileIdle(ms: number): Promise<number> {
  const before = process.cpuUsage();
  await sleep(ms);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}
