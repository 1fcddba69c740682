// Node-wide GET /metrics under `isobox start`. Each worker process counts only the requests it
// serves, so the worker a scrape reaches asks the supervisor, over the cluster IPC channel, for the
// other workers' snapshots and renders the sum (Metrics.render). A worker that does not answer
// within SNAPSHOT_WAIT_MS (frozen, dying) is left out rather than hanging the scrape, and the
// exposition says how many answered. Anywhere else (Isobox embedded in an app, or a cluster that
// is not ours) a scrape renders this process's metrics alone.
import cluster, { type Worker } from "node:cluster";
import type { Metrics, MetricsSnapshot, NodeSnapshots } from "./counters.ts";

/** How long the supervisor waits for the other workers' snapshots. */
const SNAPSHOT_WAIT_MS = 1000;
/** How long a worker waits for the supervisor: its wait, and slack for a busy supervisor. */
const GATHER_WAIT_MS = SNAPSHOT_WAIT_MS + 1000;

/** A scrape's worker asks the supervisor for the node's snapshots: { type, id }. */
const GATHER = "isobox:metrics-gather";
/** The supervisor asks a worker for its snapshot: { type, round }; the worker answers { type, round, snapshot }. */
const SNAPSHOT = "isobox:metrics-snapshot";
/** The supervisor answers a GATHER: the other workers' snapshots, and how many workers it counts. */
const GATHERED = "isobox:metrics-gathered";

interface WorkerSnapshot {
  worker: number;
  snapshot: MetricsSnapshot;
}

type Message =
  | { type: typeof GATHER; id: number }
  | { type: typeof SNAPSHOT; round: number; snapshot?: MetricsSnapshot }
  | { type: typeof GATHERED; id: number; snapshots: WorkerSnapshot[]; workers: number };

/**
 * What GET /metrics renders: `node` (a worker of `isobox start`, whose supervisor answers) sums
 * the node's workers; otherwise this process's metrics alone (other cluster primaries would never
 * answer a gather).
 */
export function nodeScrape(metrics: Metrics, node: boolean): () => Promise<string> {
  if (!node || !cluster.isWorker) return () => metrics.render();
  const gather = serveSnapshots(metrics);
  return async () => {
    const node = await gather();
    const note = `# isobox: ${node.snapshots.length} of ${node.workers} workers answered; this scrape reached worker ${cluster.worker!.id}\n`;
    return note + await metrics.render(node);
  };
}

/** Answers the supervisor's snapshot requests for `metrics`; returns how to gather the node's. */
function serveSnapshots(metrics: Metrics): () => Promise<NodeSnapshots> {
  const waiting = new Map<number, (answer: Extract<Message, { type: typeof GATHERED }>) => void>();
  let lastId = 0;
  process.on("message", (message) => {
    if (isMessage(message, SNAPSHOT)) toSupervisor({ type: SNAPSHOT, round: message.round, snapshot: metrics.snapshot() });
    else if (isMessage(message, GATHERED)) waiting.get(message.id)?.(message);
  });
  return () => new Promise((resolve) => {
    const id = ++lastId;
    const own: WorkerSnapshot = { worker: cluster.worker!.id, snapshot: metrics.snapshot() };
    const done = (others: WorkerSnapshot[], workers: number) => {
      clearTimeout(timer);
      waiting.delete(id);
      // In worker order, so the series bound folds the same way whichever worker renders.
      resolve({ snapshots: [own, ...others].sort((a, b) => a.worker - b.worker).map((s) => s.snapshot), workers });
    };
    // The supervisor answers within SNAPSHOT_WAIT_MS; this keeps the scrape alive if it cannot.
    const timer = setTimeout(() => done([], NaN), GATHER_WAIT_MS);
    waiting.set(id, (answer) => done(answer.snapshots, answer.workers));
    toSupervisor({ type: GATHER, id });
  });
}

/** The supervisor's part: answers each GATHER with the snapshots of the other workers that serve (`serving`). */
export function relayNodeMetrics(serving: (worker: Worker) => boolean): void {
  const rounds = new Map<number, Round>();
  let lastRound = 0;
  cluster.on("message", (worker: Worker, message: unknown) => {
    if (isMessage(message, SNAPSHOT)) {
      rounds.get(message.round)?.answer(worker, message.snapshot!);
    } else if (isMessage(message, GATHER)) {
      // A worker still starting has served nothing yet, and could not answer.
      const others = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w !== worker && w.isConnected() && serving(w));
      const id = ++lastRound;
      const round = new Round(others);
      rounds.set(id, round);
      for (const other of others) toWorker(other, { type: SNAPSHOT, round: id });
      void round.done.then(() => {
        rounds.delete(id);
        toWorker(worker, { type: GATHERED, id: message.id, snapshots: round.snapshots, workers: others.length + 1 });
      });
    }
  });
  // A worker that dies mid-scrape is left out at once, not after the wait. ("exit", not
  // "disconnect": a channel with a connection still being handed over defers its disconnect.)
  cluster.on("exit", (worker: Worker) => {
    for (const round of rounds.values()) round.leave(worker);
  });
}

/** One scrape's wait for the other workers' snapshots: done once each answered or left, or after SNAPSHOT_WAIT_MS. */
class Round {
  readonly snapshots: WorkerSnapshot[] = [];
  readonly done: Promise<void>;
  private readonly pending: Set<Worker>;
  private end!: () => void;

  constructor(workers: Worker[]) {
    this.pending = new Set(workers);
    this.done = new Promise((resolve) => {
      const timer = setTimeout(() => this.end(), SNAPSHOT_WAIT_MS);
      this.end = () => {
        clearTimeout(timer);
        this.pending.clear();
        resolve();
      };
    });
    this.endIfAnswered();
  }

  answer(worker: Worker, snapshot: MetricsSnapshot): void {
    if (!this.pending.delete(worker)) return;
    this.snapshots.push({ worker: worker.id, snapshot });
    this.endIfAnswered();
  }

  leave(worker: Worker): void {
    if (this.pending.delete(worker)) this.endIfAnswered();
  }

  private endIfAnswered(): void {
    if (this.pending.size === 0) this.end();
  }
}

function isMessage<T extends Message["type"]>(value: unknown, type: T): value is Extract<Message, { type: T }> {
  return typeof value === "object" && value !== null && (value as { type?: unknown }).type === type;
}

// IPC sends ignore a channel closed meanwhile (the other end died): the waits above cover it.
const ignore = () => {};

function toSupervisor(message: Message): void {
  process.send?.(message, undefined, undefined, ignore);
}

function toWorker(worker: Worker, message: Message): void {
  worker.send(message, undefined, ignore);
}
