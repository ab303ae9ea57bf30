/**
 * ./docs-init.js as the Worker sees it: a Text module (wrangler.toml [[rules]]), so its default
 * export is the script's source, served to browsers by ./assets.ts.
 */
declare const source: string;
export default source;
