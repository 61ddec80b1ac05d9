// Serves the OpenAPI document and its page (Swagger UI, from swagger-ui-dist's own folder, never a CDN); no token.
import { Router } from 'express';
// The package's main module loads the whole browser bundle into Node; this one only says where the files are.
import getAbsoluteFSPath from 'swagger-ui-dist/absolute-path.js';
import { AppError } from '../errors';
import { methodNotAllowed } from '../http/errors';
import { docsPageSecurityPolicy } from '../http/security-headers';
import { DOCS_INIT_SCRIPT, DOCS_PATH, OPENAPI_PATH, openApiDocument, SWAGGER_UI_ASSETS } from './document';

const DOCS_PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>CoreCredit account links: API documentation</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="${DOCS_PATH}/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="${DOCS_PATH}/swagger-ui-bundle.js"></script>
  <script src="${DOCS_PATH}/${DOCS_INIT_SCRIPT}"></script>
</body>
</html>
`;

// A file of its own rather than an inline script, so that the page's policy allows scripts of this origin only.
// validatorUrl: null keeps Swagger UI from sending the document to its public validator.
const INIT_SCRIPT = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: ${JSON.stringify(OPENAPI_PATH)},
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    validatorUrl: null,
  });
});
`;

export function docsRouter(): Router {
  const router = Router();
  const swaggerUiFolder = getAbsoluteFSPath();
  const document = JSON.stringify(openApiDocument());

  router.get(OPENAPI_PATH, (_req, res) => {
    res.type('application/json').send(document);
  });
  router.get(DOCS_PATH, docsPageSecurityPolicy(), (_req, res) => {
    res.type('html').send(DOCS_PAGE);
  });
  router.get(`${DOCS_PATH}/:asset`, (req, res, next) => {
    const asset = req.params.asset;
    if (asset === DOCS_INIT_SCRIPT) {
      res.type('text/javascript').send(INIT_SCRIPT);
      return;
    }
    // Only the listed files: the folder also holds a demo page that loads a public sample document.
    if (!(SWAGGER_UI_ASSETS as readonly string[]).includes(asset)) return next(new AppError('ROUTE_NOT_FOUND'));
    res.sendFile(asset, { root: swaggerUiFolder, dotfiles: 'deny', maxAge: '1h' }, (error) => {
      if (error !== undefined) next(error);
    });
  });

  router.all([OPENAPI_PATH, DOCS_PATH, `${DOCS_PATH}/:asset`], methodNotAllowed(['GET']));
  return router;
}
