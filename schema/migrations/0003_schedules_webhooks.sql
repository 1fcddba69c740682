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
CREATE INDEX "schedules_due" ON "schedules" USING btree ("next_at") WHERE not paused;--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_events_delivery" ON "webhook_events" USING btree ("tenant","function","hook","delivery_id") WHERE status = 'accepted';--> statement-breakpoint
CREATE INDEX "webhook_events_tenant_received" ON "webhook_events" USING btree ("tenant","received_at" DESC NULLS LAST,"id" DESC NULLS LAST);