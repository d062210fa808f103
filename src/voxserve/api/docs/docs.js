// Starts Swagger UI on /docs (a file of its own: the page's policy forbids inline scripts).
// Everything comes from this server: the spec, and no validator badge from elsewhere.
/* global SwaggerUIBundle */
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
