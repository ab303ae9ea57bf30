CREATE TABLE "audit_logs" (
	"id" serial NOT NULL,
	"workspace_id" integer NOT NULL,
	"actor_user_id" integer,
	"action" varchar(64) NOT NULL,
	"target_type" varchar(32) NOT NULL,
	"target_id" integer,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "pk_audit_logs" PRIMARY KEY("id")
);
--> statement-breakpoint
ALTER TABLE "workspace_invites" DROP CONSTRAINT "uq_workspace_invites_workspace_invitee_status";--> statement-breakpoint
ALTER TABLE "friend_requests" ALTER COLUMN "status" SET DEFAULT 'pending';--> statement-breakpoint
ALTER TABLE "channels" ADD COLUMN "topic" varchar(250);--> statement-breakpoint
ALTER TABLE "channels" ADD COLUMN "is_archived" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "audit_logs" ADD CONSTRAINT "fk_audit_logs_actor_user_id_users" FOREIGN KEY ("actor_user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "ix_audit_logs_workspace_id_id" ON "audit_logs" USING btree ("workspace_id","id");--> statement-breakpoint
CREATE INDEX "ix_channels_workspace_id" ON "channels" USING btree ("workspace_id");--> statement-breakpoint
CREATE INDEX "ix_direct_messages_thread_id_id" ON "direct_messages" USING btree ("thread_id","id");--> statement-breakpoint
CREATE INDEX "ix_messages_channel_id_id" ON "messages" USING btree ("channel_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "uq_workspace_invites_pending_invitee" ON "workspace_invites" USING btree ("workspace_id","invitee_user_id") WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX "ix_workspace_members_user_id" ON "workspace_members" USING btree ("user_id");--> statement-breakpoint
-- Databases of the original may hold duplicate memberships (it had no unique key): keep one row per pair,
-- the one with the strongest role, then the oldest, before adding the keys.
DELETE FROM "workspace_members" AS "m" USING "workspace_members" AS "keep"
WHERE "m"."workspace_id" = "keep"."workspace_id" AND "m"."user_id" = "keep"."user_id" AND "m"."id" <> "keep"."id"
  AND (CASE "keep"."role" WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, "keep"."id")
    < (CASE "m"."role" WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, "m"."id");--> statement-breakpoint
DELETE FROM "channel_members" AS "m" USING "channel_members" AS "keep"
WHERE "m"."channel_id" = "keep"."channel_id" AND "m"."user_id" = "keep"."user_id" AND "keep"."id" < "m"."id";--> statement-breakpoint
ALTER TABLE "channel_members" ADD CONSTRAINT "uq_channel_members_channel_user" UNIQUE("channel_id","user_id");--> statement-breakpoint
ALTER TABLE "workspace_members" ADD CONSTRAINT "uq_workspace_members_workspace_user" UNIQUE("workspace_id","user_id");