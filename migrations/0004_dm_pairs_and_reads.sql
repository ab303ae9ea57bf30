CREATE TABLE "direct_message_reads" (
	"user_id" integer NOT NULL,
	"thread_id" integer NOT NULL,
	"last_read_message_id" integer DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "pk_direct_message_reads" PRIMARY KEY("user_id","thread_id")
);
--> statement-breakpoint
ALTER TABLE "direct_message_threads" DROP CONSTRAINT "uq_dm_threads_workspace_users";--> statement-breakpoint
ALTER TABLE "direct_message_reads" ADD CONSTRAINT "fk_direct_message_reads_user_id_users" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "direct_message_reads" ADD CONSTRAINT "fk_direct_message_reads_thread_id_direct_message_threads" FOREIGN KEY ("thread_id") REFERENCES "public"."direct_message_threads"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "ix_direct_message_reads_thread_id" ON "direct_message_reads" USING btree ("thread_id");--> statement-breakpoint
CREATE INDEX "ix_direct_message_threads_user2_id" ON "direct_message_threads" USING btree ("user2_id");--> statement-breakpoint
-- Databases of the original may hold several threads for one pair of users (its unique key included the
-- workspace, and concurrent opens raced; D22): keep the one the original itself returned for the pair (the
-- latest updated_at, else created_at, then the highest id), move the others' messages into it (ids keep them
-- in order), and drop the others. Then store every pair in order, as the new keys require.
UPDATE "direct_messages" AS "m" SET "thread_id" = "r"."keep_id"
FROM (SELECT "id", first_value("id") OVER (
    PARTITION BY least("user1_id", "user2_id"), greatest("user1_id", "user2_id")
    ORDER BY coalesce("updated_at", "created_at") DESC, "id" DESC) AS "keep_id"
  FROM "direct_message_threads") AS "r"
WHERE "m"."thread_id" = "r"."id" AND "r"."id" <> "r"."keep_id";--> statement-breakpoint
DELETE FROM "direct_message_threads" AS "t"
USING (SELECT "id", first_value("id") OVER (
    PARTITION BY least("user1_id", "user2_id"), greatest("user1_id", "user2_id")
    ORDER BY coalesce("updated_at", "created_at") DESC, "id" DESC) AS "keep_id"
  FROM "direct_message_threads") AS "r"
WHERE "t"."id" = "r"."id" AND "r"."id" <> "r"."keep_id";--> statement-breakpoint
UPDATE "direct_message_threads" SET "user1_id" = "user2_id", "user2_id" = "user1_id" WHERE "user1_id" > "user2_id";--> statement-breakpoint
-- The original kept read state in Redis only (D15), which a migration cannot read: the history that exists
-- when this runs counts as read by both participants, rather than every old message showing as unread.
INSERT INTO "direct_message_reads" ("user_id", "thread_id", "last_read_message_id")
SELECT "p"."user_id", "t"."id", "last"."id"
FROM "direct_message_threads" AS "t"
CROSS JOIN LATERAL (VALUES ("t"."user1_id"), ("t"."user2_id")) AS "p"("user_id")
CROSS JOIN LATERAL (SELECT max("id") AS "id" FROM "direct_messages" WHERE "thread_id" = "t"."id") AS "last"
WHERE "last"."id" IS NOT NULL;--> statement-breakpoint
ALTER TABLE "direct_message_threads" ADD CONSTRAINT "uq_direct_message_threads_users" UNIQUE("user1_id","user2_id");--> statement-breakpoint
ALTER TABLE "direct_message_threads" ADD CONSTRAINT "ck_direct_message_threads_user_order" CHECK (user1_id < user2_id);