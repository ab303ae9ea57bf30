CREATE TABLE "channel_members" (
	"id" serial NOT NULL,
	"channel_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone,
	CONSTRAINT "pk_channel_members" PRIMARY KEY("id")
);
--> statement-breakpoint
CREATE TABLE "channels" (
	"id" serial NOT NULL,
	"workspace_id" integer NOT NULL,
	"name" varchar(255) NOT NULL,
	"is_private" boolean NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone,
	CONSTRAINT "pk_channels" PRIMARY KEY("id")
);
--> statement-breakpoint
CREATE TABLE "direct_message_threads" (
	"id" serial NOT NULL,
	"workspace_id" integer NOT NULL,
	"user1_id" integer NOT NULL,
	"user2_id" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone,
	CONSTRAINT "pk_direct_message_threads" PRIMARY KEY("id"),
	CONSTRAINT "uq_dm_threads_workspace_users" UNIQUE("workspace_id","user1_id","user2_id")
);
--> statement-breakpoint
CREATE TABLE "direct_messages" (
	"id" serial NOT NULL,
	"thread_id" integer NOT NULL,
	"sender_id" integer NOT NULL,
	"content" text NOT NULL,
	"is_deleted" boolean DEFAULT false NOT NULL,
	"is_edited" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone,
	CONSTRAINT "pk_direct_messages" PRIMARY KEY("id")
);
--> statement-breakpoint
CREATE TABLE "friend_requests" (
	"id" serial NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone,
	"requester_id" integer NOT NULL,
	"addressee_id" integer NOT NULL,
	"status" varchar NOT NULL,
	CONSTRAINT "pk_friend_requests" PRIMARY KEY("id"),
	CONSTRAINT "uq_friend_requests_users" UNIQUE("requester_id","addressee_id")
);
--> statement-breakpoint
CREATE TABLE "friends" (
	"id" serial NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone,
	"user1_id" integer NOT NULL,
	"user2_id" integer NOT NULL,
	CONSTRAINT "pk_friends" PRIMARY KEY("id"),
	CONSTRAINT "uq_friends_users" UNIQUE("user1_id","user2_id"),
	CONSTRAINT "ck_friends_ck_friends_order" CHECK (user1_id < user2_id)
);
--> statement-breakpoint
CREATE TABLE "messages" (
	"id" serial NOT NULL,
	"channel_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"content" text NOT NULL,
	"is_edited" boolean NOT NULL,
	"is_deleted" boolean NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone,
	CONSTRAINT "pk_messages" PRIMARY KEY("id")
);
--> statement-breakpoint
CREATE TABLE "user_sessions" (
	"id" serial NOT NULL,
	"user_id" integer NOT NULL,
	"session_id" varchar(64) NOT NULL,
	"user_agent" varchar(512),
	"ip_address" varchar(128),
	"revoked_at" timestamp with time zone,
	"last_seen_at" timestamp with time zone DEFAULT now(),
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone,
	CONSTRAINT "pk_user_sessions" PRIMARY KEY("id"),
	CONSTRAINT "uq_user_sessions_session_id" UNIQUE("session_id")
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" serial NOT NULL,
	"email" varchar(255) NOT NULL,
	"hashed_password" varchar(255),
	"display_name" varchar(255),
	"avatar_url" varchar(1024),
	"is_active" boolean NOT NULL,
	"is_superuser" boolean NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone,
	"username" varchar(32),
	CONSTRAINT "pk_users" PRIMARY KEY("id"),
	CONSTRAINT "ck_users_display_name_handle" CHECK (display_name IS NULL OR display_name ~ '^.{2,32}#\d{4}$')
);
--> statement-breakpoint
CREATE TABLE "workspace_invites" (
	"id" serial NOT NULL,
	"workspace_id" integer NOT NULL,
	"inviter_user_id" integer NOT NULL,
	"invitee_user_id" integer NOT NULL,
	"status" varchar(20) DEFAULT 'pending' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone,
	CONSTRAINT "pk_workspace_invites" PRIMARY KEY("id"),
	CONSTRAINT "uq_workspace_invites_workspace_invitee_status" UNIQUE("workspace_id","invitee_user_id","status")
);
--> statement-breakpoint
CREATE TABLE "workspace_members" (
	"id" serial NOT NULL,
	"workspace_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"role" varchar(50) NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone,
	CONSTRAINT "pk_workspace_members" PRIMARY KEY("id")
);
--> statement-breakpoint
CREATE TABLE "workspaces" (
	"id" serial NOT NULL,
	"name" varchar(255) NOT NULL,
	"slug" varchar(255) NOT NULL,
	"owner_id" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone,
	CONSTRAINT "pk_workspaces" PRIMARY KEY("id"),
	CONSTRAINT "uq_workspaces_slug" UNIQUE("slug")
);
--> statement-breakpoint
ALTER TABLE "channel_members" ADD CONSTRAINT "fk_channel_members_channel_id_channels" FOREIGN KEY ("channel_id") REFERENCES "public"."channels"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "channel_members" ADD CONSTRAINT "fk_channel_members_user_id_users" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "channels" ADD CONSTRAINT "fk_channels_workspace_id_workspaces" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "direct_message_threads" ADD CONSTRAINT "fk_direct_message_threads_user1_id_users" FOREIGN KEY ("user1_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "direct_message_threads" ADD CONSTRAINT "fk_direct_message_threads_user2_id_users" FOREIGN KEY ("user2_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "direct_message_threads" ADD CONSTRAINT "fk_direct_message_threads_workspace_id_workspaces" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "direct_messages" ADD CONSTRAINT "fk_direct_messages_sender_id_users" FOREIGN KEY ("sender_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "direct_messages" ADD CONSTRAINT "fk_direct_messages_thread_id_direct_message_threads" FOREIGN KEY ("thread_id") REFERENCES "public"."direct_message_threads"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "friend_requests" ADD CONSTRAINT "fk_friend_requests_addressee_id_users" FOREIGN KEY ("addressee_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "friend_requests" ADD CONSTRAINT "fk_friend_requests_requester_id_users" FOREIGN KEY ("requester_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "friends" ADD CONSTRAINT "fk_friends_user1_id_users" FOREIGN KEY ("user1_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "friends" ADD CONSTRAINT "fk_friends_user2_id_users" FOREIGN KEY ("user2_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "fk_messages_channel_id_channels" FOREIGN KEY ("channel_id") REFERENCES "public"."channels"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "fk_messages_user_id_users" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_sessions" ADD CONSTRAINT "fk_user_sessions_user_id_users" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "workspace_invites" ADD CONSTRAINT "fk_workspace_invites_invitee_user_id_users" FOREIGN KEY ("invitee_user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "workspace_invites" ADD CONSTRAINT "fk_workspace_invites_inviter_user_id_users" FOREIGN KEY ("inviter_user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "workspace_invites" ADD CONSTRAINT "fk_workspace_invites_workspace_id_workspaces" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "workspace_members" ADD CONSTRAINT "fk_workspace_members_user_id_users" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "workspace_members" ADD CONSTRAINT "fk_workspace_members_workspace_id_workspaces" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "workspaces" ADD CONSTRAINT "fk_workspaces_owner_id_users" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "ix_channel_members_id" ON "channel_members" USING btree ("id");--> statement-breakpoint
CREATE INDEX "ix_channels_id" ON "channels" USING btree ("id");--> statement-breakpoint
CREATE INDEX "ix_direct_message_threads_id" ON "direct_message_threads" USING btree ("id");--> statement-breakpoint
CREATE INDEX "ix_direct_messages_id" ON "direct_messages" USING btree ("id");--> statement-breakpoint
CREATE INDEX "ix_friend_requests_id" ON "friend_requests" USING btree ("id");--> statement-breakpoint
CREATE INDEX "ix_friends_id" ON "friends" USING btree ("id");--> statement-breakpoint
CREATE INDEX "ix_messages_id" ON "messages" USING btree ("id");--> statement-breakpoint
CREATE INDEX "ix_user_sessions_id" ON "user_sessions" USING btree ("id");--> statement-breakpoint
CREATE INDEX "ix_users_id" ON "users" USING btree ("id");--> statement-breakpoint
CREATE UNIQUE INDEX "ix_users_email" ON "users" USING btree ("email");--> statement-breakpoint
CREATE UNIQUE INDEX "ix_users_username" ON "users" USING btree ("username");--> statement-breakpoint
CREATE UNIQUE INDEX "uq_users_display_name_lower" ON "users" USING btree (lower("display_name"));--> statement-breakpoint
CREATE INDEX "ix_workspace_invites_id" ON "workspace_invites" USING btree ("id");--> statement-breakpoint
CREATE INDEX "ix_workspace_members_id" ON "workspace_members" USING btree ("id");--> statement-breakpoint
CREATE INDEX "ix_workspaces_id" ON "workspaces" USING btree ("id");