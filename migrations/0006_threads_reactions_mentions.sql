-- Threads, reactions and mentions, for channel and direct messages alike (additive: an original database
-- adopted with 0000-0005 keeps working, and the original service's queries still run). A reply names its
-- thread's root in parent_id (one level; the Worker checks it); a root carries its counters (reply_count,
-- last_reply_at, the latest repliers) so listings never count replies. reaction_count lets a page ask for
-- reactions only when some message has any. Mentions are one table for both kinds, with no foreign key to
-- the message (it lives in one of two tables); deleting a channel deletes its rows (src/services/mentions.ts).
CREATE TABLE "direct_message_reactions" (
	"message_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"emoji" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "pk_direct_message_reactions" PRIMARY KEY("message_id","user_id","emoji")
);
--> statement-breakpoint
CREATE TABLE "message_mentions" (
	"id" serial NOT NULL,
	"user_id" integer NOT NULL,
	"conversation_kind" text NOT NULL,
	"conversation_id" integer NOT NULL,
	"message_id" integer NOT NULL,
	"author_id" integer NOT NULL,
	"via" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "pk_message_mentions" PRIMARY KEY("id"),
	CONSTRAINT "uq_message_mentions_message_user" UNIQUE("conversation_kind","message_id","user_id"),
	CONSTRAINT "ck_message_mentions_kind" CHECK (conversation_kind in ('channel', 'dm')),
	CONSTRAINT "ck_message_mentions_via" CHECK (via in ('user', 'channel', 'here'))
);
--> statement-breakpoint
CREATE TABLE "message_reactions" (
	"message_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"emoji" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "pk_message_reactions" PRIMARY KEY("message_id","user_id","emoji")
);
--> statement-breakpoint
ALTER TABLE "direct_messages" ADD COLUMN "parent_id" integer;--> statement-breakpoint
ALTER TABLE "direct_messages" ADD COLUMN "reply_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "direct_messages" ADD COLUMN "last_reply_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "direct_messages" ADD COLUMN "reply_user_ids" integer[] DEFAULT '{}'::integer[] NOT NULL;--> statement-breakpoint
ALTER TABLE "direct_messages" ADD COLUMN "reaction_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "parent_id" integer;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "reply_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "last_reply_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "reply_user_ids" integer[] DEFAULT '{}'::integer[] NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "reaction_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "direct_message_reactions" ADD CONSTRAINT "fk_direct_message_reactions_message_id_direct_messages" FOREIGN KEY ("message_id") REFERENCES "public"."direct_messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "direct_message_reactions" ADD CONSTRAINT "fk_direct_message_reactions_user_id_users" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "message_mentions" ADD CONSTRAINT "fk_message_mentions_user_id_users" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "message_reactions" ADD CONSTRAINT "fk_message_reactions_message_id_messages" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "message_reactions" ADD CONSTRAINT "fk_message_reactions_user_id_users" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "ix_message_mentions_user_id_id" ON "message_mentions" USING btree ("user_id","id");--> statement-breakpoint
CREATE INDEX "ix_message_mentions_conversation" ON "message_mentions" USING btree ("conversation_kind","conversation_id","user_id","message_id");--> statement-breakpoint
ALTER TABLE "direct_messages" ADD CONSTRAINT "fk_direct_messages_parent_id_direct_messages" FOREIGN KEY ("parent_id") REFERENCES "public"."direct_messages"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "fk_messages_parent_id_messages" FOREIGN KEY ("parent_id") REFERENCES "public"."messages"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "ix_direct_messages_parent_id_id" ON "direct_messages" USING btree ("parent_id","id");--> statement-breakpoint
CREATE INDEX "ix_messages_parent_id_id" ON "messages" USING btree ("parent_id","id");