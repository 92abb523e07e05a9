window.SwaggerUIBundle({url:"/openapi.json",dom_id:"#swagger-ui",deepLinking:!0,presets:[window.SwaggerUIBundle.presets.apis],layout:"BaseLayout",validatorUrl:null});
