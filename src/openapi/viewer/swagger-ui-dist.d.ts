/**
 * swagger-ui-dist's prebuilt browser files as the Worker sees them: Text modules (wrangler.toml
 * [[rules]]), whose default export is the file's content, served to browsers by ./assets.ts.
 */
declare module "swagger-ui-dist/swagger-ui-bundle.js" {
  const source: string;
  export default source;
}
declare module "swagger-ui-dist/swagger-ui.css" {
  const source: string;
  export default source;
}
