// What every request of the app carries (Hono<AppEnv>): who is calling (set by requireAuth on the
// API) and the request body's limit (set by the app, read by readBodyOf).
import type { Principal } from "./auth.ts";

export type AppEnv = { Variables: { principal: Principal; maxBodyBytes: number } };
