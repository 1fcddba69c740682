// How times, durations and sizes read in the console.

export function ago(iso: string | null | undefined): string {
  if (!iso) return "—";
  const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
  if (Math.abs(seconds) < 60) return seconds >= 0 ? `${Math.round(seconds)} s ago` : `in ${Math.round(-seconds)} s`;
  const minutes = seconds / 60;
  if (Math.abs(minutes) < 60) return minutes >= 0 ? `${Math.round(minutes)} min ago` : `in ${Math.round(-minutes)} min`;
  const hours = minutes / 60;
  if (Math.abs(hours) < 48) return hours >= 0 ? `${Math.round(hours)} h ago` : `in ${Math.round(-hours)} h`;
  return new Date(iso).toLocaleString();
}

export function time(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : "—";
}

export function clock(iso: string): string {
  const date = new Date(iso);
  return `${date.toLocaleTimeString([], { hour12: false })}.${String(date.getMilliseconds()).padStart(3, "0")}`;
}

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (value < 1) return `${value.toFixed(2)} ms`;
  if (value < 1000) return `${value.toFixed(value < 10 ? 1 : 0)} ms`;
  return `${(value / 1000).toFixed(2)} s`;
}

export function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (value < 1024) return `${value} B`;
  if (value < 1024 * 1024) return `${(value / 1024).toFixed(1)} KiB`;
  return `${(value / 1024 / 1024).toFixed(1)} MiB`;
}

/** JSON as the console shows it (a value it cannot show says so instead of throwing). */
export function pretty(value: unknown): string {
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return String(value);
  }
}
