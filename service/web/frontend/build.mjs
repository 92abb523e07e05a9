// Bundles the three pages (one entry each) into ../static with esbuild: ES modules, minified,
// with Leaflet's CSS pulled in by the imports. Deterministic: same sources, same output. Swagger
// UI's own bundle is copied as it ships, so that /docs loads nothing from another site.
import { build } from "esbuild";
import { copyFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));

await build({
  entryPoints: ["carte", "regulateur", "operateur", "docs"].map((name) => path.join(here, "src", `${name}.js`)),
  outdir: path.join(here, "..", "static"),
  bundle: true,
  format: "esm",
  minify: true,
  target: ["es2020"],
  loader: { ".png": "file", ".svg": "file" },
  assetNames: "[name]-[hash]",
  legalComments: "linked",
  logLevel: "info",
});

const swagger = path.join(here, "node_modules", "swagger-ui-dist");
for (const [from, to] of [
  ["swagger-ui-bundle.js", "swagger-ui-bundle.js"],
  ["swagger-ui-bundle.js.LICENSE.txt", "swagger-ui-bundle.js.LICENSE.txt"],
  ["swagger-ui.css", "swagger-ui.css"],
  ["favicon-32x32.png", "swagger-ui-favicon.png"],
]) {
  copyFileSync(path.join(swagger, from), path.join(here, "..", "static", to));
}
