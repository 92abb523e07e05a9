// Bundles the three pages (one entry each) into ../static with esbuild: ES modules, minified,
// with Leaflet's CSS pulled in by the imports. Deterministic: same sources, same output.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));

await build({
  entryPoints: ["carte", "regulateur", "operateur"].map((name) => path.join(here, "src", `${name}.js`)),
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
