export { startGateway, newGatewayId, type Gateway, type GatewayDeps } from './gateway.js';
export { DEFAULT_GATEWAY_OPTIONS, type GatewayOptions } from './options.js';
export { assertNativeUws, isNativeUws, uWS } from './uws.js';
export type { HttpRequest, HttpResponse, TemplatedApp } from './uws.js';
export { sendJson, sendError, errorBody } from './http-responses.js';
