export { runBenchmark, MAX_CONNECTIONS_PER_PROCESS, type BenchOptions } from './run.js';
export { formatTable, type BenchResult } from './report.js';
export { planScenario, SCENARIOS, SCENARIO_DEFAULTS, type ScenarioName, type ScenarioParameters } from './scenarios.js';
export { Histogram, type Percentiles } from './histogram.js';
export { signHs256, verifyHs256 } from './jwt.js';
export { startReferenceServer, type ReferenceServer } from './reference/uws-server.js';
export { spawnServer, type SpawnedServer } from './server-process.js';
export { sample, processGroupMembers, cpuSeconds, residentBytes, type ProcessSample } from './proc-stats.js';
export type { ClientProtocol, PresenceStats } from './messages.js';
