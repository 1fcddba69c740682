CREATE TABLE "cluster_identity" (
	"id" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"master_key_check" text NOT NULL,
	"admin_token_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"key_changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "cluster_identity_one_row" CHECK ("cluster_identity"."id")
);
