// Which invocation is executing right now. One isolate serves concurrent invocations; every
// macrotask in the isolate starts at a host entry (a dispatch, a resolved host call, a timer), so
// setting this at each entry attributes logs and fetches to the invocation that caused them.
let current = "";

export function currentRun(): string {
  return current;
}

export function enterRun(run: string): void {
  current = run;
}
