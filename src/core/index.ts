/** The import path of the core library for main, server and CLI (ARCHITECTURE.md §1). */
export * from './bundle';
export * from './crypto';
export * from './errors';
export * from './policy';
export * from './statement';
export * from './log';
export * from './http-signature';
export * from './channel';
export * from './db';
