// The API reference at /docs: Swagger UI (loaded before this module by docs.html, from this
// service's own assets) reading the service's contract.
window.SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [window.SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  validatorUrl: null, // its default badge asks validator.swagger.io about the contract
});
