export * from './statement';
export * from './approval';
export * from './trust-root';
export * from './server-api';
export * from './airgap';
export * from './keys';
export * from './device';
