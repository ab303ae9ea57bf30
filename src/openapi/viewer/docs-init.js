// Starts Swagger UI on this API's own document. A file of its own (served at
// /docs/assets/docs-init.<hash>.js), so the page's Content-Security-Policy allows no inline script.
// Runs in the browser after swagger-ui-bundle.js, which defines SwaggerUIBundle.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  // Swagger UI's standalone layout (not this default one) shows a validator badge loaded from
  // validator.swagger.io: off, so no layout change can make the page call another host.
  validatorUrl: null,
});
