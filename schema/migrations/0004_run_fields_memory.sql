ALTER TABLE "run_logs" ADD COLUMN "fields" jsonb;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "memory_bytes" bigint;--> statement-breakpoint
CREATE INDEX "runs_started" ON "runs" USING btree ("started_at");