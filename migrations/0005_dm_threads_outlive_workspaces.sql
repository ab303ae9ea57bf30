-- A direct-message thread belongs to its two people, not to the workspace it was started from: deleting that
-- workspace keeps the thread and its messages and only forgets where it was started (workspace_id becomes
-- NULL). Relaxes the original's NOT NULL and foreign key; no row changes. The owner_id index serves the rule
-- of who can reach whom (src/services/access.ts), which counts a workspace's owner by owner_id.
ALTER TABLE "direct_message_threads" DROP CONSTRAINT "fk_direct_message_threads_workspace_id_workspaces";
--> statement-breakpoint
ALTER TABLE "direct_message_threads" ALTER COLUMN "workspace_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "direct_message_threads" ADD CONSTRAINT "fk_direct_message_threads_workspace_id_workspaces" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "ix_workspaces_owner_id" ON "workspaces" USING btree ("owner_id");