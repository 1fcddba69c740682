DROP INDEX "jobs_key";--> statement-breakpoint
CREATE UNIQUE INDEX "jobs_key" ON "jobs" USING btree ("tenant","function","key") WHERE key is not null;