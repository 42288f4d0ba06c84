export { loadConfig, ConfigError, type Config } from './config.js';
export { startAllInOne, startGatewayProcess, startRoomsProcess, mintToken, createLogger, type Running } from './server.js';
