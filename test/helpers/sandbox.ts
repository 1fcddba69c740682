// A Sandbox's dispatch as tests use it: the value, or a thrown error carrying the failure's code.
import type { InvocationHost } from "../../sandbox/host/host-work.ts";
import type { RunEnd, Sandbox } from "../../sandbox/host/sandbox.ts";
import type { SandboxFailure } from "../../sandbox/host/limits.ts";
import type { InvocationInfo, TriggerKind } from "../../sandbox/protocol.ts";

export class FailedDispatch extends Error {
  readonly code: SandboxFailure["code"];
  readonly failure: SandboxFailure;
  constructor(failure: SandboxFailure) {
    super(failure.message);
    this.code = failure.code;
    this.failure = failure;
  }
}

/** Limits generous enough for any test that is not about limits. */
export const NO_LIMITS = { cpuLimitNs: 60_000 * 1e6, deadline: Infinity };

/** Dispatches and resolves with the handler's value (throws a FailedDispatch), and when its run ended. */
export async function dispatch(sandbox: Sandbox, kind: TriggerKind, info: InvocationInfo, arg: unknown, hooks: InvocationHost, limits = NO_LIMITS): Promise<{ value: any; done: Promise<RunEnd> }> {
  const { answer, done } = sandbox.dispatch(kind, info, arg, hooks, limits);
  const answered = await answer;
  if (!answered.ok) throw new FailedDispatch(answered.failure);
  return { value: answered.value, done };
}
