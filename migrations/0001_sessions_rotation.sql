ALTER TABLE "user_sessions" ADD COLUMN "refresh_token_id" varchar(64);--> statement-breakpoint
ALTER TABLE "user_sessions" ADD COLUMN "previous_refresh_token_id" varchar(64);--> statement-breakpoint
ALTER TABLE "user_sessions" ADD COLUMN "refreshed_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "ix_user_sessions_user_id" ON "user_sessions" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "ix_users_email_lower" ON "users" USING btree (lower("email"));