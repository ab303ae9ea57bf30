-- Full-text search of channel and direct messages (additive: an adopted original database keeps working, and
-- the original service's queries, which name their columns, still run). Each message table gets the words of
-- its content as a generated, stored tsvector and a GIN index on it; PostgreSQL keeps both up to date on every
-- insert and edit, so nothing runs beside the database. The configuration ('simple': lower-cased words, no
-- stemming, no stop words) is a constant, as a generated column requires; SEARCH_LANGUAGE must name the same
-- one (README, "Search", says how to rebuild the column with another). Adding a stored column rewrites each
-- table once, so on a large database this migration takes a while (about a minute per million messages).
ALTER TABLE "direct_messages" ADD COLUMN "search_vector" tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, content)) STORED;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "search_vector" tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, content)) STORED;--> statement-breakpoint
CREATE INDEX "ix_direct_messages_search_vector" ON "direct_messages" USING gin ("search_vector");--> statement-breakpoint
CREATE INDEX "ix_messages_search_vector" ON "messages" USING gin ("search_vector");