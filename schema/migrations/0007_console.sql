CREATE TABLE "console_sessions" (
	"id_hash" text PRIMARY KEY NOT NULL,
	"token_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "function_versions" ADD COLUMN "source" text;--> statement-breakpoint
ALTER TABLE "function_versions" ADD COLUMN "language" text;--> statement-breakpoint
ALTER TABLE "function_versions" ADD COLUMN "handlers" text[];--> statement-breakpoint
CREATE INDEX "console_sessions_last_seen" ON "console_sessions" USING btree ("last_seen_at");