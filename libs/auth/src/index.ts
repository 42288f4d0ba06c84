export { createVerifier, DEFAULT_VERIFIER_OPTIONS, type Verifier, type VerifierOptions } from './verifier.js';
export { createSigner, type Signer, type SignerOptions, type SignOptions, type TokenClaims } from './signer.js';
export { CLAIM_MESSAGES, principalFromClaims, type Principal } from './claims.js';
export { compileRoomPatterns, NO_ROOMS, type RoomPatterns } from './room-patterns.js';
export { AuthConfigError, JWT_ALGORITHMS, type JwtAlgorithm } from './keys.js';
