/** The import path of the core library for main, server and CLI (STYLE: core/index.ts). */
export * from './bundle';
export * from './crypto';
export * from './errors';
export * from './policy';
export * from './statement';
export * from './log';
export * from './http-signature';
