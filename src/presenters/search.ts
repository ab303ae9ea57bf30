/**
 * A search page on the wire (GET /search/messages). The snippet is a fragment of HTML that is safe
 * to render: the message's text escaped, with the matched words in `<mark>` and nothing else, so a
 * client that shows it as HTML cannot be handed markup from a message.
 */
import { HIGHLIGHT_START, HIGHLIGHT_STOP, type SearchHit, type SearchPage } from "../services/search";
import { isoTime, toUserPublic } from "./users";

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** ts_headline's text with its marks as `<mark>`, everything else escaped. */
export function toSnippetHtml(snippet: string): string {
  return snippet
    .replace(/[&<>"']/g, (ch) => ESCAPES[ch] as string)
    .replaceAll(HIGHLIGHT_START, "<mark>")
    .replaceAll(HIGHLIGHT_STOP, "</mark>");
}

export function toSearchHitRead(hit: SearchHit) {
  return {
    conversation_kind: hit.kind,
    conversation_id: hit.conversationId,
    workspace_id: hit.workspaceId,
    message_id: hit.messageId,
    parent_id: hit.parentId,
    sender: toUserPublic(hit.sender),
    created_at: isoTime(hit.createdAt),
    snippet: toSnippetHtml(hit.snippet),
    rank: hit.rank,
  };
}

export function toSearchPage(page: SearchPage) {
  return { results: page.hits.map(toSearchHitRead), next_cursor: page.nextCursor };
}
