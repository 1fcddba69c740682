CREATE TABLE "job_steps" (
	"job_id" text NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"status" text NOT NULL,
	"result" jsonb,
	"error" jsonb,
	"attempt" integer NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"duration_ms" real NOT NULL,
	CONSTRAINT "job_steps_job_id_name_pk" PRIMARY KEY("job_id","name")
);
--> statement-breakpoint
CREATE TABLE "jobs" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant" text NOT NULL,
	"function" text NOT NULL,
	"version" integer,
	"trigger" text DEFAULT 'job' NOT NULL,
	"payload" jsonb,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"max_attempts" integer NOT NULL,
	"run_at" timestamp with time zone DEFAULT now() NOT NULL,
	"priority" integer DEFAULT 0 NOT NULL,
	"key" text,
	"concurrency" integer,
	"locked_by" text,
	"locked_until" timestamp with time zone,
	"result" jsonb,
	"error" jsonb,
	"notify" text,
	"notified_at" timestamp with time zone,
	"trace_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "schedules" (
	"tenant" text NOT NULL,
	"function" text NOT NULL,
	"name" text NOT NULL,
	"cron" text NOT NULL,
	"timezone" text,
	"payload" jsonb,
	"overlap" text NOT NULL,
	"missed" text NOT NULL,
	"paused" boolean DEFAULT false NOT NULL,
	"next_at" timestamp with time zone NOT NULL,
	"last_scheduled_at" timestamp with time zone,
	"last_job_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "schedules_tenant_function_name_pk" PRIMARY KEY("tenant","function","name")
);
--> statement-breakpoint
CREATE TABLE "webhook_events" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant" text NOT NULL,
	"function" text NOT NULL,
	"hook" text NOT NULL,
	"delivery_id" text,
	"status" text NOT NULL,
	"reason" jsonb,
	"headers" jsonb NOT NULL,
	"body" text,
	"job_id" text,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "job_id" text;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "attempt" integer;--> statement-breakpoint
ALTER TABLE "job_steps" ADD CONSTRAINT "job_steps_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "jobs_key" ON "jobs" USING btree ("tenant","function","key");--> statement-breakpoint
CREATE INDEX "jobs_claim" ON "jobs" USING btree ("priority" DESC NULLS LAST,"run_at","id") WHERE status = 'queued';--> statement-breakpoint
CREATE INDEX "jobs_due" ON "jobs" USING btree ("run_at") WHERE status = 'queued';--> statement-breakpoint
CREATE INDEX "jobs_running" ON "jobs" USING btree ("tenant","function") WHERE status = 'running';--> statement-breakpoint
CREATE INDEX "jobs_tenant_created" ON "jobs" USING btree ("tenant","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "jobs_finished" ON "jobs" USING btree ("finished_at") WHERE finished_at is not null;--> statement-breakpoint
CREATE INDEX "schedules_due" ON "schedules" USING btree ("next_at") WHERE not paused;--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_events_delivery" ON "webhook_events" USING btree ("tenant","function","hook","delivery_id") WHERE status = 'accepted';--> statement-breakpoint
CREATE INDEX "webhook_events_tenant_received" ON "webhook_events" USING btree ("tenant","received_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "runs_job" ON "runs" USING btree ("job_id") WHERE job_id is not null;