// The keys every Isobox a benchmark starts shares: the nodes on one database are one cluster.
export const BENCH_MASTER_KEY = process.env.ISOBOX_MASTER_KEY ?? "be1c".repeat(16);
export const BENCH_ADMIN_TOKEN = process.env.ISOBOX_ADMIN_TOKEN ?? `isa_bench_${"be1c".repeat(8)}`;
