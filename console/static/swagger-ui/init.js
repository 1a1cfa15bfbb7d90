// Renders the API's generated OpenAPI document with the vendored Swagger UI. No online
// validator badge: the page talks to this server only.
window.ui = SwaggerUIBundle({
  url: "/api/v1/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
});
